// SPDX-License-Identifier: GPL-2.0
/*
 * What a resuming agent session writes on the post-copy holder's socket
 * (phaul/pclink.h): the holder accepts exactly its greeting and the token,
 * nothing shorter, longer or different.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "pclink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t token[PCLINK_TOKEN_LEN] = "0123456789abcdef0123456789abcde";
	int ret = pclink_check_req(data, size, token);

	if (ret == 0 && (size != PCLINK_REQ_LEN || memcmp(data, PCLINK_HELLO, PCLINK_HELLO_LEN) ||
			 memcmp(data + PCLINK_HELLO_LEN, token, PCLINK_TOKEN_LEN)))
		__builtin_trap();
	if (ret != 0 && ret != -PH_EPROTO && ret != -PH_EAUTH)
		__builtin_trap();
	return 0;
}
