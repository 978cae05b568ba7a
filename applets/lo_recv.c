/* lo-recv - listen, accept, write every byte that arrives to stdout or a
 * file until the peer half-closes; optionally answer with a reply.
 *
 * The reply goes out as soon as the first bytes arrive (or at the peer's
 * half-close if it sent nothing), so a client that waits for its answer
 * before closing gets one. If the output cannot be written the connection
 * is reset, not closed: the sender must learn that bytes were lost.
 *
 * -u: each datagram a line of the output; what the kernel dropped (the
 * queue full) is exit 1, as UDP has no sender to tell.
 */
#include "lb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPTIONS(X) \
	X(0, LB_FLAG, help, 0, \
		"usage: lo-recv [OPTIONS] -p PORT [-o FILE] [-m REPLY] [-k [-c COUNT]]\n\n" \
		"Listen on a loopback port, accept one connection and write every byte that\n" \
		"arrives to stdout (or FILE) until the peer half-closes. Exit 0 when every\n" \
		"byte was stored; if the output fails, reset the connection and exit 1.\n" \
		"With -u, receive UDP datagrams, each written as a line (a newline added\n" \
		"where it has none), until COUNT came; -t: exit 4 after SECS of silence.\n") \
	X('o', LB_STR, out, 0, " -o FILE  write to FILE instead of stdout") \
	X('m', LB_STR, msg, 0, " -m REPLY send REPLY once the first bytes (or the peer's EOF) arrive") \
	X('k', LB_FLAG, keep, 0, " -k       keep accepting, one connection after another (appending)") \
	X('c', LB_COUNT, count, 0, " -c COUNT stop after COUNT connections (implies -k; -u: datagrams)")
LB_SPEC(spec, OPTIONS, .common = "pa6uUPtvqh", .excl = "umk\0");

/* -o FILE, without blocking: a FIFO with no reader is ENXIO. Then the
 * descriptor blocks, as stdout does. */
static int open_out(int flags)
{
	int fd = lb_open(lb.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK | flags, 0666);
	if (fd >= 0)
		lb_fcntl(fd, F_SETFL, 0);
	return fd;
}

/* -u: each datagram on FD (bound at HERE) a line of OUT, until -c COUNT
 * came; -t: exit 4 after that much silence. Signals kill as they do by
 * default (as during a TCP transfer): a write to a stalled output must
 * not hold off a SIGINT, and a UDP socket leaves no file to remove. */
static void dgrams(int fd, const struct lb_addr *here, int out)
{
	/* 65,535 - 8: no UDP payload is larger (IPv6 jumbograms need an MTU
	 * lo never has), so nothing is ever truncated; 1 more for the newline */
	static char b[65528];
	struct pollfd pf = { fd, POLLIN, 0 };
	struct lb_addr peer;
	uint32_t mem[9];	/* SO_MEMINFO; [8]: datagrams the kernel dropped */
	int deep = 4 << 20;
	char why[64];

	/* a burst (lo-send -u of a file) outruns our writes: a deep queue
	 * (as far as rmem_max lets) drops less, and what it drops is said */
	lb_setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &deep, sizeof(deep));
	lb_sigunblock();	/* (blocked while waiting for a FIFO's reader) */

	for (uint64_t n = 0; n != lb.count || !n; ) {
		int r = poll(&pf, 1, (int)lb.idle_ms);
		if (r == 0)
			lb_die(EX_TIME, lb_addrstr(here), "idle timeout: no datagram came");
		peer.len = sizeof(peer.u);
		ssize_t k = r < 0 ? -1 : lb_recvfrom(fd, b, sizeof(b) - 1, MSG_DONTWAIT, &peer.u.sa, &peer.len);
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			lb_die_errno(EX_FAIL, r < 0 ? "poll" : "recv");
		if (k < 0)
			continue;
		if (!k || b[k - 1] != '\n')
			b[k++] = '\n';
		if (lb_write_all(out, b, (size_t)k))
			lb_die_errno(EX_FAIL, lb.out ? lb.out : "stdout");
		if (lb.verbose)
			lb_say("datagram from ", lb_addrstr(&peer), NULL);
		n++;
		socklen_t l = sizeof(mem);
		if (!lb_getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &l) && l == sizeof(mem) && mem[8]) {
			lb_stpcpy(lb_utoa(why, mem[8]) + strlen(why), " datagrams lost: the receive queue was full");
			lb_die(EX_FAIL, lb_addrstr(here), why);
		}
	}
}

static char tmp[4096];	/* -o's new file until it is FILE; "" after */

static void drop_tmp(void)
{
	unlink(tmp);
}

/* -o FILE appears only complete: the bytes go to a new file beside it,
 * under a name nobody can guess or plant (lb_tmpfile), renamed over FILE
 * once all is stored; every exit before that removes it. (O_TMPFILE would
 * leave nothing even after SIGKILL, but cannot replace FILE, needs /proc
 * or CAP_DAC_READ_SEARCH to be linked, and not every file system has it:
 * this would remain as the fallback.) The file that is stdout already
 * (/dev/stdout) is stdout; a FIFO or a device is opened as it is (links
 * followed: /dev/stderr is one); under -k FILE is appended to connection
 * after connection, never through a symlink. */
static int new_out(int keep)
{
	struct lb_statx st, o;
	int gone = lb_statx(AT_FDCWD, lb.out, 0, &st);

	if (!gone && !lb_statx(1, "", AT_EMPTY_PATH, &o) && o.ino == st.ino &&
	    o.dev_major == st.dev_major && o.dev_minor == st.dev_minor)
		return 1;
	if (!gone && !S_ISREG(st.mode))
		return open_out(0);
	if (keep)
		return open_out(O_NOFOLLOW);
	int fd = lb_tmpfile(lb.out, tmp, sizeof(tmp));
	if (fd < 0)
		lb_die_errno(EX_FAIL, lb.out);
	lb_atexit(drop_tmp);
	if (!gone)	/* FILE's permissions stay; before a byte is in */
		syscall(SYS_fchmod, fd, st.mode & 0777);
	return fd;
}

/* Every byte stored: on the disk, so that no crash after our exit 0 can
 * lose them, then in FILE's place. */
static void commit(int fd)
{
	if ((*tmp && syscall(SYS_fsync, fd)) || close(fd) || (*tmp && rename(tmp, lb.out)))
		lb_die_errno(EX_FAIL, lb.out);
	*tmp = 0;
}

int lo_recv_main(char **argv)
{
	static struct lb_addr here;	/* static: keeps the frame small */

	lb_parse(argv, &spec);
	lb_xendpoint(&here, 1);

	/* -u: each datagram as it comes, as -k */
	int keep = lb.keep || lb.count || lb.udp;
	int out = lb.out ? new_out(keep) : 1;
	if (out < 0 && errno != ENXIO)
		lb_die_errno(EX_FAIL, lb.out);
	int lfd = lb_xlisten(&here, lb.udp ? SOCK_DGRAM : SOCK_STREAM);
	/* ENXIO: a FIFO nobody reads yet. open() would have blocked before
	 * we listen (and -P said nothing); now wait for a reader, -t at most */
	struct pollfd sig = { out < 0 ? lb_sigblock(0) : -1, POLLIN, 0 };
	for (uint64_t t0 = lb_now_us(); out < 0; poll(&sig, 1, 20)) {
		if (sig.revents)	/* a signal while we wait: through the exit hooks */
			lb_sigdie(lb_signext());
		if ((out = open_out(0)) < 0 && errno != ENXIO)
			lb_die_errno(EX_FAIL, lb.out);
		if (out < 0 && lb.idle_ms >= 0 && lb_now_us() - t0 >= (uint64_t)lb.idle_ms * 1000)
			lb_die(EX_TIME, lb.out, "idle timeout: nobody opened the FIFO to read");
	}
	uint64_t done = 0;

	if (lb.udp)
		dgrams(lfd, &here, out);
	else do {
		struct lb_addr peer;
		struct lb_pump p = {
			.sock = lb_xaccept(lfd, &here, &peer),
			.ep = &here,
			.msg = lb.msg,
			.msglen = lb.msg ? strlen(lb.msg) : 0,
			.gate = 1,
			.out = out,
			.outname = lb.out ? lb.out : "stdout",
			.sigs = *tmp,
		};
		const char *where;
		if (!*tmp)	/* no file to remove: signals kill, even mid-write */
			lb_sigunblock();
		/* until every byte is stored, any close (even our death) resets */
		lb_linger(p.sock, 1);
		if (lb.verbose)
			lb_say("connection from ", lb_addrstr(&peer), NULL);
		int err = lb_pump(&p, &where);
		if (err)
			lb_pump_die(&p, err, where);
		if (!keep && lb.out)
			commit(out);
		lb_linger(p.sock, 0);
		close(p.sock);
		lb_report(&p);
	} while (keep && ++done != lb.count);
	if (keep && lb.out && close(out))
		lb_die_errno(EX_FAIL, lb.out);
	close(lfd);
	return EX_OK;
}
