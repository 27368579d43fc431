// SPDX-License-Identifier: GPL-2.0
/* chan: backend-independent helpers. */
#include "transport/chan_int.h"

#include "err.h"

int chan_read_part(struct chan *c, void *buf, size_t len, size_t off, size_t total,
		   const char *unit, atomic_uint_fast64_t *act)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = c->ops->read(c, (char *)buf + got, len - got);

		if (n > 0) {
			if (act)
				atomic_fetch_add_explicit(act, 1, memory_order_relaxed);
			got += n;
			continue;
		}
		if (n == 0 && !off && !got)
			return ph_seterr(PH_EEOF, "peer %s closed the connection", c->peer);
		if (n == 0)
			return ph_seterr(PH_ETRUNC,
					 "peer %s: stream ended inside a %s (got %zu of %zu bytes)",
					 c->peer, unit, off + got, total);
		if (n == -PH_EEOF && (off || got))
			return ph_errctx(-PH_ETRUNC,
					 "peer %s: stream ended inside a %s (got %zu of %zu bytes)",
					 c->peer, unit, off + got, total);
		return (int)n;
	}
	return 0;
}

int chan_read_full(struct chan *c, void *buf, size_t len)
{
	return chan_read_part(c, buf, len, 0, len, "message", NULL);
}

int chan_write_full(struct chan *c, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = c->ops->write(c, (const char *)buf + done, len - done);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return ph_seterr(PH_ESYS, "writing to %s: no progress", c->peer);
		done += n;
	}
	return 0;
}

int chan_set_timeout(struct chan *c, int timeout_ms)
{
	if (!c->ops->set_timeout)
		return ph_seterr(PH_ENOTSUP, "%s: the %s channel has no I/O timeout", c->peer,
				 c->ops->name);
	return c->ops->set_timeout(c, timeout_ms);
}

int chan_set_write_timeout(struct chan *c, int timeout_ms)
{
	if (!c->ops->set_write_timeout)
		return ph_seterr(PH_ENOTSUP, "%s: the %s channel has no write timeout", c->peer,
				 c->ops->name);
	return c->ops->set_write_timeout(c, timeout_ms);
}

void chan_shutdown(struct chan *c)
{
	if (c)
		c->ops->shutdown(c);
}

void chan_close(struct chan *c)
{
	if (!c)
		return;
	c->ops->shutdown(c);
	c->ops->free(c);
}

void chan_release(struct chan *c)
{
	if (c)
		c->ops->free(c);
}
