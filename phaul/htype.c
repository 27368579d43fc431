// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "htype.h"

extern const struct htype_ops htype_pid;

static const struct htype_ops *const htypes[] = { &htype_pid };

int ct_open(const char *spec, struct ct *ct)
{
	const char *colon = strchr(spec, ':');

	memset(ct, 0, sizeof(*ct));
	if (strlen(spec) >= sizeof(ct->spec))
		return ph_seterr(PH_EUSAGE, "CT name too long");
	snprintf(ct->spec, sizeof(ct->spec), "%s", spec);
	if (!colon)
		return ph_seterr(PH_EUSAGE, "'%s': CT must be TYPE:ID, e.g. pid:4242", spec);
	snprintf(ct->id, sizeof(ct->id), "%s", colon + 1);
	for (size_t i = 0; i < sizeof(htypes) / sizeof(htypes[0]); i++) {
		if (strlen(htypes[i]->name) == (size_t)(colon - spec) &&
		    !strncmp(spec, htypes[i]->name, colon - spec)) {
			ct->ops = htypes[i];
			return ct->ops->resolve(ct);
		}
	}
	return ph_seterr(PH_EUSAGE, "'%s': unknown CT type (known: pid)", spec);
}

bool ct_alive(const struct ct *ct)
{
	return ct->root > 0 && (kill(ct->root, 0) == 0 || errno == EPERM);
}
