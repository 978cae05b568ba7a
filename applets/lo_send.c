/* lo-send - connect, send a message, files or stdin, half-close, then copy
 * the reply to stdout until the peer closes.
 *
 * Exit 0 only if every byte went out and the peer then closed cleanly:
 * a reset at any point (lo-recv resets when it cannot store a byte) is
 * exit 1. Until it ends well the socket is set to reset on close, so a
 * lo-send that dies mid-way never looks like a clean end to its peer.
 */
#include "lb.h"
#include "peer.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, \
		"usage: lo-send [OPTIONS] -p PORT [-m MESSAGE | FILE... | -z]\n\n" \
		"Connect to a loopback port and send MESSAGE (no newline added), the FILEs\n" \
		"in order, or stdin (- is stdin). Then half-close and copy what the peer\n" \
		"sends back to stdout until it closes. Exit 0 only if every byte was sent\n" \
		"and the peer closed cleanly; 1 if it reset or vanished.\n") \
	X('m', LB_STR, msg, 0, " -m MSG   send MSG instead of files or stdin") \
	X('z', LB_FLAG, probe, 0, " -z       only connect, then close: is anyone listening? (-w: wait)")
LB_SPEC(spec, OPTIONS, .common = "pa6Utwvqh", .operands = 1, .excl = "zm\0");

int lo_send_main(char **argv)
{
	static struct lb_addr to;	/* static: keeps the frame small (-32 B) */

	lb_parse(argv, &spec);
	if ((lb.msg || lb.probe) && lb.nargs)
		lb_die(EX_USAGE, lb.msg ? "-m" : "-z", "conflicts with FILE operands");
	lb_xendpoint(&to, 0);
	if (lb.probe)	/* -z: the wait-for-a-port of scripts */
		return close(lb_xconnect(&to, SOCK_STREAM)), EX_OK;

	int n = lb.nargs ? lb.nargs : !lb.msg;
	int fds[n ? n : 1];
	for (int i = 0; i < lb.nargs; i++) {
		const char *f = lb.args[i];
		fds[i] = strcmp(f, "-") ? lb_open(f, O_RDONLY | O_CLOEXEC, 0) : 0;
		if (fds[i] < 0)
			lb_die_errno(EX_FAIL, f);
	}
	if (!lb.nargs)
		fds[0] = 0;

	struct lb_pump p = {
		.sock = lb_xconnect(&to, SOCK_STREAM),
		.ep = &to,
		.msg = lb.msg,
		.msglen = lb.msg ? strlen(lb.msg) : 0,
		.files = fds,
		.nfiles = n,
		.names = lb.nargs ? lb.args : NULL,
		.shut = 1,
		.unread = lb_peer_unread,
		.out = 1,
		.outname = "stdout",
	};
	const char *where;
	lb_linger(p.sock, 1);
	int err = lb_pump(&p, &where);
	if (err)
		lb_pump_die(&p, err, where);
	lb_linger(p.sock, 0);
	close(p.sock);
	lb_report(&p);
	return EX_OK;
}
