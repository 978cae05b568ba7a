/* nl.c - the one netlink request helper (see nl.h). */
#include "nl.h"

#include <errno.h>

static int fds[5];	/* fd + 1, by protocol */

int lb_nl_fd(int proto)
{
	if (!fds[proto])
		fds[proto] = 1 + lb_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	return fds[proto] - 1;
}

int lb_nl(int proto, void *q, void (*fn)(void *arg, struct lb_nlh *m), void *arg)
{
	static uint32_t seq;
	static char buf[32768];	/* a dump's part: bss, not in the file */
	struct lb_nlh *h = q;
	int fd = lb_nl_fd(proto);

	h->seq = ++seq;
	if (fd < 0 || lb_send(fd, q, h->len, 0) < 0)
		return errno;
	for (;;) {
		ssize_t n = lb_recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? errno : EIO;
		for (char *p = buf; p + sizeof(*h) <= buf + n;) {
			struct lb_nlh *m = (void *)p;
			if (m->len < sizeof(*h) || p + m->len > buf + n)
				break;
			p += (m->len + 3) & ~3u;
			if (m->seq != seq)
				continue;	/* an answer to an earlier question */
			if (m->type == 2 /* NLMSG_ERROR */)
				return -*(int32_t *)(m + 1);
			if (m->type == 3 /* NLMSG_DONE */)
				return 0;
			fn(arg, m);
			if (!(m->flags & 2 /* NLM_F_MULTI */))
				return 0;
		}
	}
}

void *lb_nl_attr(struct lb_nlh *m, unsigned hdr, unsigned type)
{
	char *end = (char *)m + m->len;

	for (char *a = (char *)(m + 1) + hdr; a + 4 <= end;) {
		uint16_t len = *(uint16_t *)a;
		if (len < 4 || a + len > end)
			break;
		if ((*(uint16_t *)(a + 2) & 0x3fff) == type)
			return a + 4;
		a += (len + 3) & ~3u;
	}
	return NULL;
}
