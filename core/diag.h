/* diag.h - the loopback doctor: why a socket call failed, or why loopback
 * traffic got no answer, asked of the kernel (netlink, ioctl, socket
 * results; never /proc or /sys), named as one cause with its fix.
 *
 * Every function takes the endpoint, the operation and the errno: none
 * reads the parsed command line but for -t, -q and the applet's name. */
#ifndef LB_DIAG_H
#define LB_DIAG_H

#include "lb.h"

/* the operation that failed; | LB_UDP for datagram sockets */
enum { LB_OP_LO, LB_OP_SOCKET, LB_OP_BIND, LB_OP_CONNECT, LB_OP_SEND, LB_UDP = 8 };
#define LB_ESELF 4095	/* not an errno: the connection is to itself */

/* The causes, in the README's order; their codes are lb_diag_text(c, 0).
 * 1..9 make exit 3, 10..15 exit 1, 16 is a note. */
enum {
	LB_C_DOWN = 1, LB_C_ADDR, LB_C_NO6, LB_C_MTU, LB_C_ROUTE, LB_C_RULE,
	LB_C_DROP, LB_C_REJECT, LB_C_SANDBOX,
	LB_C_NOPORT, LB_C_SELF, LB_C_OTHER, LB_C_TW, LB_C_QUEUE, LB_C_QDISC,
	LB_C_HOSTS,
};

/* What was found, in order: lo-echo -J reports them all. */
struct lb_found {
	int cause;
	char text[238];		/* "detail\0fix" */
};
extern struct lb_found lb_found[6];
extern int lb_nfound;
extern struct lb_found *lb_last;	/* the one lb_diag found last */

/* Diagnose OP on A failing with ERR (0 with LB_OP_LO: lo's state only;
 * ETIMEDOUT: no answer came). Records the cause in lb_found and returns
 * its cause number, or 0 when none was found. */
int lb_diag(const struct lb_addr *a, int op, int err);
/* The exit code of cause C (0 for a note) */
int lb_diag_code(int c);
/* Cause C (lb_last) as "APPLET: A: detail: fix" (C 0: ERR's text), then
 * exit with CODE, or (CODE 0) the cause's. */
_Noreturn void lb_diag_exit(const struct lb_addr *a, int c, int err, int code);
_Noreturn void lb_diag_die(const struct lb_addr *a, int op, int err);
/* Connect FD (an inet socket made with SOCK_NONBLOCK) to A: 0 or an
 * errno (LB_ESELF: to itself; ETIMEDOUT: no answer, its cause recorded
 * when found). No answer in 2 s is diagnosed: a cause that makes exit 3
 * returns at once; a full queue or a qdisc is noted and waited for, up
 * to BOUND ms in all (0: the kernel's limit). FD is blocking again on
 * return. */
int lb_dial(int fd, const struct lb_addr *a, long bound);
/* The stable code of cause C ("lo-down"); the last cause found (C) as a
 * line "APPLET: note: detail: fix" */
const char *lb_diag_name(int c);
void lb_diag_note(int c);
/* lo-echo: a qdisc on lo, /etc/hosts without localhost: "note:" lines */
void lb_diag_notes(void);
/* --up: repair lo, 127.0.0.1/8, ::1, the MTU, the local routes and rule */
void lb_up(void);
/* -A over TCP: exit 1 unless the kernel can name a peer's owner */
void lb_diag_peers(const struct lb_addr *a);

#endif
