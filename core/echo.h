/* echo.h - lo-echo's client and -l server (core/echo.c), for its self-test
 * and report (applets/lo_echo.c). */
#ifndef LB_ECHO_H
#define LB_ECHO_H

#include "lb.h"

enum { PASS, FAIL, SKIP };

/* One check: its name, type and server (ep) in; its verdict, note and
 * numbers out. */
struct check {
	const char *name;
	int type;		/* SOCK_STREAM, SOCK_DGRAM */
	int res, code;		/* code: the exit status it failed with */
	union {		/* x: the numeric fields in the report's order */
		struct {	/* v: min p50 p99 max */
			uint64_t n, bytes, ns, v[4], lost, late, dup;
		};
		uint64_t x[10];
	};
	char addr[120], note[320];
	int fd;			/* the self-test's client's socket, made before the
				 * fork (0: not the self-test) */
	/* last, for short offsets to the rest: the echo server's address,
	 * and (self-test) its client's, the only one the server answers */
	struct lb_addr ep, me;
};

/* What every check runs with: lo-echo sets it from its options. */
extern struct lb_echo {
	uint64_t count, size;	/* per check: -c messages of -s bytes */
	int wait_ms;		/* a client's wait for each echo (-t) */
} lb_echo;

#define BIG (1u << 20)		/* bulk and server buffers */
extern char lb_echo_buf[BIG];	/* the servers' and bulk's */

/* COUNT round trips of SIZE bytes on K, timed and verified, with SB of
 * 3 * SIZE + 1 bytes. A failure is said on stderr (even with -q) and
 * recorded in K; one the doctor can name, by its cause. */
void lb_echo_rtt(struct check *k, uint8_t *sb);
/* -B: lb.bulk bytes one way into the self-test's sink, which answers with
 * the count it received once we half-close. */
void lb_echo_bulk(struct check *k);
/* TCP: every message goes out at once (a no-op on UDP and UNIX sockets) */
int lb_echo_nodelay(int fd);
/* Is A the address ONLY (NULL: anyone)? */
int lb_echo_is(const struct lb_addr *a, const struct lb_addr *only);
/* UDP: one datagram back to whoever sent it (if it is ONLY); -1: none was
 * waiting. */
ssize_t lb_echo_dgram(int fd, int flags, const struct lb_addr *only);
/* -l: listen (TYPE: SOCK_STREAM, SOCK_DGRAM) and echo on the shared loop
 * until SIGTERM/SIGINT, or -c COUNT clients (-u: datagrams) were served
 * and are done; -t: exit 4 once idle that long. */
int lb_echo_serve(int type);

#endif
