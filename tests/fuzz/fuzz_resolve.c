/* fuzz_resolve - lb_xresolve's address check, and lb_addrstr on what it
 * accepted. Only 127.0.0.0/8 (less its broadcast address), ::1 and
 * localhost may pass; anything else is exit 2, and no socket is made for
 * any input.
 *
 * Input: byte 0: bit 0 listener, bit 1 the text is a -U PATH, bits 2-3 the
 * port (absent, 0, 65535, bytes 1-2); the rest is the -a ADDR (or PATH).
 */
#include "fuzz.h"

#include <arpa/inet.h>

/* strict dotted quad, no leading zeros: 0 and the first octet, or -1 */
static int quad(const char *s)
{
	int first = -1;
	for (int i = 0; i < 4; i++) {
		int v = 0, nd = 0;
		while (*s >= '0' && *s <= '9' && nd < 4)
			v = v * 10 + (*s++ - '0'), nd++;
		if (!nd || nd > 3 || v > 255 || (nd > 1 && s[-nd] == '0'))
			return -1;
		if (!i)
			first = v;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	return *s ? -1 : first;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 3)
		return 0;
	int listener = d[0] & 1, path = d[0] >> 1 & 1, pk = d[0] >> 2 & 3;
	int port = pk == 0 ? -1 : pk == 1 ? 0 : pk == 2 ? 65535 : (d[1] << 8 | d[2]);
	char *s = fz_str(d + 3, n - 3);
	if (!*s) {	/* lb_parse refuses an empty -a or -U */
		free(s);
		return 0;
	}
	int low = fz_lowfd(), code;
	unsigned long socks = fz_sockets;

	fz_reset("fuzz");
	static struct lb_addr sa;
	code = FZ_CALL(lb_xresolve(&sa, path ? "127.0.0.1" : s, path ? s : NULL, port, listener));
	FZ_ASSERT(code == -1 || code == EX_USAGE, "lb_xresolve exit %d", code);
	FZ_ASSERT(fz_sockets == socks, "a socket was made for \"%s\"", s);
	FZ_ASSERT(fz_lowfd() == low, "a descriptor was left open");

	if (path) {
		FZ_ASSERT((code == -1) == (strlen(s) < sizeof(sa.u.un.sun_path)), "path of %zu", strlen(s));
		if (code == -1) {
			const char *a = lb_addrstr(&sa);
			FZ_ASSERT(*s == '@' || !strcmp(a, s), "addrstr \"%s\" for \"%s\"", a, s);
			FZ_ASSERT(*s != '@' || *a == '@', "abstract \"%s\"", a);
		}
	} else if (port < 0 || (port == 0 && !listener)) {
		FZ_ASSERT(code == EX_USAGE, "port %d accepted", port);
	} else {
		int q = quad(s);
		int want = !strcmp(s, "localhost") || !strcmp(s, "::1") ||
			   (q == 127 && strcmp(s, "127.255.255.255"));
		if (want || q >= 0)
			FZ_ASSERT((code == -1) == want, "\"%s\": exit %d", s, code);
		if (code == -1) {
			int fam = sa.u.sa.sa_family;
			char b[INET6_ADDRSTRLEN];
			FZ_ASSERT(fam == AF_INET || fam == AF_INET6, "family %d", fam);
			if (fam == AF_INET) {
				FZ_ASSERT((ntohl(sa.u.in.sin_addr.s_addr) >> 24) == 127, "\"%s\" not 127/8", s);
				FZ_ASSERT(ntohs(sa.u.in.sin_port) == port, "port");
				FZ_ASSERT(sa.len == sizeof(sa.u.in), "len");
			} else {
				FZ_ASSERT(IN6_IS_ADDR_LOOPBACK(&sa.u.in6.sin6_addr), "\"%s\" not ::1", s);
				FZ_ASSERT(ntohs(sa.u.in6.sin6_port) == port, "port");
			}
			/* lb_addrstr: the address, ':' and the port */
			const char *a = lb_addrstr(&sa);
			char want_s[80], pb[8];
			if (fam == AF_INET)
				inet_ntop(AF_INET, &sa.u.in.sin_addr, b, sizeof(b));
			snprintf(want_s, sizeof(want_s), fam == AF_INET ? "%s:%s" : "[::1]:%2$s", b,
				 lb_utoa(pb, (uint64_t)port));
			FZ_ASSERT(!strcmp(a, want_s), "addrstr \"%s\", want \"%s\"", a, want_s);
		}
	}
	free(s);
	return 0;
}
