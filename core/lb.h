/* lb.h - the loopbox core: what every applet shares.
 *
 * Conventions (toybox-style): a helper whose name has an x after the
 * prefix (lb_xlisten, xmap) prints the error and exits when it fails, so
 * applet code reads as the happy path; every other function returns its
 * failure (-1, or an errno where it says so). Exit codes are the SPEC's.
 */
#ifndef LB_H
#define LB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	EX_OK = 0,	/* the job was done */
	EX_FAIL = 1,	/* run-time failure */
	EX_USAGE = 2,	/* bad option, bad number, not loopback */
	EX_NOLO = 3,	/* loopback unavailable */
	EX_TIME = 4,	/* -w window or -t idle timeout ran out */
	EX_NOAPPLET = 127,
};

struct lb_addr {
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
};

/* ---- the parsed command line ----
 *
 * Each applet describes its options in one table next to its help (see
 * lo_send.c): a row per option gives its letter, kind, the field it sets,
 * the modes it goes with, and its line of help, which names its argument.
 * lb_parse derives from the tables the letters accepted, the range checks,
 * the conflicts and the usage text. The options most applets share are one
 * table in opt.c; an applet names the letters it takes from it.
 */
struct lb_opts {
	const char *name;	/* the applet's name, for messages (set by main) */
	int port;		/* -p, -1 when absent */
	const char *addr;	/* -a (default 127.0.0.1; -6: ::1) */
	const char *path;	/* -U */
	const char *portfile;	/* -P */
	long idle_ms;		/* -t, -1 when absent */
	long wait_ms;		/* -w, 0 when absent */
	/* flags: how many times given (-v -v: 2) */
	unsigned char v6, udp, verbose, quiet, keep, listen, json, up, help, probe, greet;
	const char *msg;	/* -m */
	const char *out;	/* -o */
	const char *file;	/* -f */
	const char *uids;	/* -A */
	char **exec;		/* -e PROG ARGS... (NULL-terminated) */
	uint64_t count;		/* -c, 0 when absent */
	uint64_t max;		/* -n, 0 when absent */
	uint64_t size;		/* -s */
	uint64_t bulk;		/* -B */
	char **args;		/* the operands, NULL-terminated */
	int nargs;
};
/* Written by lb_parse (and main, for the name) alone; everyone else reads
 * it through lb, a read-only view: a store to lb.x does not compile. */
extern struct lb_opts lb_opts;
#define lb (*(const struct lb_opts *)&lb_opts)

/* The kinds of option, and what lb_parse checks of each argument. */
enum {
	LB_FLAG,	/* no argument: the field counts it */
	LB_STR,		/* non-empty text */
	LB_PORT,	/* 0-65535 */
	LB_SECS,	/* seconds, 0.001-86400, decimals allowed -> ms */
	LB_SECS0,	/* the same, 0 allowed */
	LB_COUNT,	/* 1-4294967295 */
	LB_SIZE,	/* bytes, K, M, G allowed, at most 1T */
	LB_REST,	/* the rest of the command line: PROG [ARGS...] */
};
/* The modes an option goes with, a bit each: the shared options say
 * which are a server's or a client's; an applet that has several modes
 * (lo-echo: its self-test, -l, -p) checks them with lb_modes. */
enum { LB_ANY = 0, LB_SELF = 1, LB_SERVER = 2, LB_CLIENT = 4 };

struct lb_opt {
	char c;			/* the letter; '-': a long option, 0: a line of text */
	unsigned char kind;	/* LB_FLAG ... */
	unsigned char field;	/* offsetof(struct lb_opts, FIELD) */
	unsigned char modes;	/* LB_SERVER|...: the modes it goes with; 0: all */
};
/* An option table is an X-macro list of rows
 *	X(LETTER, KIND, FIELD, MODES, " -c ARG   help line")
 * from which LB_ROW makes the rows and LB_TEXT their lines of usage, in
 * the same order ("" for a row not shown). A long option's name follows
 * the " --" of its line. A row of LETTER 0 is a line of text alone: the
 * usage line above the options, say. */
#define LB_ROW(c, kind, field, modes, line) \
	{ c, kind, offsetof(struct lb_opts, field) + LB_FITS(kind, field), modes },
#define LB_TEXT(c, kind, field, modes, line) line "\0"
/* 0, or a compile error where FIELD is not the size KIND stores */
#define LB_FITS(kind, field) 0 * sizeof(char[sizeof(lb_opts.field) == \
	((kind) == LB_FLAG ? 1 : (kind) == LB_PORT ? sizeof(int) : \
	 (kind) == LB_SECS || (kind) == LB_SECS0 ? sizeof(long) : \
	 (kind) == LB_COUNT || (kind) == LB_SIZE ? 8 : sizeof(char *)) ? 1 : -1])

struct lb_spec {
	const struct lb_opt *rows;	/* its own options, and lines of text */
	const char *text;	/* their lines of usage */
	const char *common;	/* the letters it takes from the shared table */
	const char *excl;	/* "XYZ\0...": -X conflicts with -Y and -Z */
	unsigned char nrows;
	unsigned char operands;	/* operands allowed */
};
#define LB_SPEC(name, list, ...) \
	static const struct lb_opt name##_rows[] = { list(LB_ROW) }; \
	_Static_assert(sizeof(name##_rows) <= 32 * sizeof(struct lb_opt), "32 options at most"); \
	static const struct lb_spec name = { \
		.rows = name##_rows, .text = list(LB_TEXT), \
		.nrows = sizeof(name##_rows) / sizeof(name##_rows[0]), __VA_ARGS__ }

/* Parse argv by SPEC into lb; usage errors exit 2, -h/--help prints the
 * usage and exits 0. */
void lb_parse(char **argv, const struct lb_spec *spec);
/* For an applet with modes: exit 2 if an option given does not go with
 * MODE (LB_SELF, LB_SERVER, ...), saying the WHY of that mode (WHY[0], ...). */
void lb_modes(unsigned mode, const char *const *why);
/* Was option C given? (For an option whose field cannot tell.) */
int lb_given(int c);

/* ---- messages and exits ---- */
void lb_write(int fd, const char *s, ...);	/* NULL-terminated strings */
/* All N bytes of BUF, through short writes, EINTR and a non-blocking FD
 * (which it polls): 0, or -1 (errno) */
int lb_write_all(int fd, const void *buf, size_t n);
void lb_say(const char *s, ...);		/* "APPLET: " ... "\n", unless -q */
/* -v's live line is on stderr (a terminal): the next write to it wipes
 * the line first (lb_write(2, NULL): only that) */
extern int lb_live;
_Noreturn void lb_die(int code, const char *what, const char *why);
_Noreturn void lb_die_errno(int code, const char *what);
const char *lb_strerror(int err);
char *lb_utoa(char *buf, uint64_t n);	/* returns buf, NUL-terminated */
char *lb_fixed(char *buf, uint64_t n, unsigned div, int digits);
/* F's '#' a uint64_t, '$' a string, '@' one escaped for JSON, into [P, END) */
char *lb_vfmt(char *p, char *end, const char *f, va_list ap);
/* FN runs at lb_exit, the last added first; up to LB_NEXIT hooks, each
 * added by the code that made what it cleans up. */
#define LB_NEXIT 4
void lb_atexit(void (*fn)(void));
_Noreturn void lb_exit(int code);

/* ---- numbers ---- */
/* All return -1 (and print nothing) on malformed input. */
int lb_num(const char *s, uint64_t *out, uint64_t max, int suffixes);
long lb_secs(const char *s);		/* "1.5" -> 1500 ms */
uint64_t lb_now_us(void);		/* monotonic */
uint64_t lb_now_ns(void);		/* monotonic, from the vDSO where there is one */
/* A new file beside PATH (at DIR: a directory's descriptor, or AT_FDCWD),
 * named PATH.<16 random hex digits> into TMP (of SIZE): created with
 * O_EXCL|O_NOFOLLOW, so never through a file or a symlink someone planted
 * there; mode 0666 less the umask. The descriptor, or -1 (errno). */
int lb_tmpfileat(int dir, const char *path, char *tmp, size_t size);
#define lb_tmpfile(path, tmp, size) lb_tmpfileat(AT_FDCWD, path, tmp, size)
/* What statx(2) says of a file: musl's stat goes through fstatat and its
 * /proc fallback (800 B), and musl 1.2.3 has no statx(). The kernel's
 * layout, the same on every architecture. */
struct lb_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad;
	uint64_t ino, size, blocks, attributes_mask, times[8];
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};
/* PATH at DIR (AT_FDCWD; a descriptor with "" and AT_EMPTY_PATH) into
 * *ST, the basic fields; 0 or -1 (errno) */
static inline int lb_statx(int dir, const char *path, int flags, struct lb_statx *st)
{
	return (int)syscall(SYS_statx, dir, path, flags, 0x7ff /* STATX_BASIC_STATS */, st);
}

/* ---- sockets ---- */
#define LB_UDP_MAX 65507	/* the largest UDP payload over IPv4 */
#define LB_PAUSE_MS 100		/* a wait for resources (descriptors) */
#define LB_LINGER_MS 2000	/* a served client's time to close (lo-serve) */
/* The endpoint ADDR (text: 127.0.0.0/8, ::1, localhost) and PORT, or the
 * UNIX socket PATH (when not NULL), into *A; usage errors exit 2. Port 0
 * only for a LISTENER. */
void lb_xresolve(struct lb_addr *a, const char *addr, const char *path, int port, int listener);
/* The endpoint the common options (-a, -6, -U, -p) name. */
void lb_xendpoint(struct lb_addr *a, int listener);
const char *lb_addrstr(const struct lb_addr *a);	/* "127.0.0.1:80", "[::1]:80", "/p" */
/* Bound and listening at *A, whose port becomes the one bound; -P
 * written, -v said. A UNIX socket file made here is removed at exit. */
int lb_xlisten(struct lb_addr *a, int type);
int lb_xconnect(const struct lb_addr *a, int type);	/* retries for -w */
/* The next connection on LFD (listening at A) and its PEER; -t bounds the
 * wait (exit 4). A signal while it waits ends it through the exit hooks;
 * it returns with SIGINT, SIGTERM and SIGHUP still blocked, for the caller
 * to read (lb_pump's sigs) or unblock (lb_sigunblock): unblocked here, one
 * that came meanwhile would kill before the caller could clean up. */
int lb_xaccept(int lfd, const struct lb_addr *a, struct lb_addr *peer);
void lb_linger(int fd, int abort);	/* abort=1: any close() resets */
/* Why a socket call failed, and --up: core/diag.h (the loopback doctor) */

/* ---- the copy loop ---- */
struct lb_pump {
	int sock;
	const struct lb_addr *ep;	/* the endpoint its messages name */
	/* towards the socket: a message, then files (NULL: stdin) */
	const char *msg;
	size_t msglen;
	int *files;
	int nfiles;
	int gate;		/* hold the message until the peer speaks */
	int shut;		/* shutdown(SHUT_WR) when the source is done */
	int sigs;		/* SIGTERM, SIGINT, SIGHUP end it through the exit hooks */
	/* before that, wait until this says the peer read all (0); -1: it
	 * cannot say, which fails once the peer half-closed (lb_peer_unread) */
	int (*unread)(int fd);
	/* from the socket */
	char **names;		/* the files' names, for messages (NULL: stdin) */
	const char *inname;
	int out;
	const char *outname;
	uint64_t sent, rcvd;
	uint64_t t0;
};
/* Moves bytes both ways until the source is sent and the peer closed.
 * Returns 0, or the errno that stopped it with *where naming the side. */
int lb_pump(struct lb_pump *p, const char **where);
void lb_report(struct lb_pump *p);
_Noreturn void lb_pump_die(struct lb_pump *p, int err, const char *where);

/* ---- system calls and strings, without libc's wrappers ----
 * musl's open, socket, accept4, pipe2, fcntl and mmap carry emulations for
 * kernels older than 2.6.27 (or checks loopbox never needs), and strchr,
 * strrchr and stpcpy are word-at-a-time: 1,472 B together in the core.
 * loopbox needs Linux 4.11 anyway (statx). Calls with a 64-bit offset
 * (pread, sendfile) stay libc's: 32-bit machines split it. */
static inline int lb_open(const char *path, int flags, int mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode);
}
static inline int lb_socket(int family, int type, int proto)
{
	return (int)syscall(SYS_socket, family, type, proto);
}
static inline int lb_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return (int)syscall(SYS_accept4, fd, sa, len, flags);
}
static inline int lb_pipe2(int fd[2], int flags)
{
	return (int)syscall(SYS_pipe2, fd, flags);
}
static inline int lb_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
/* The socket calls too: musl's wrappers of them are 513 B on x86-64 and
 * 3.7 KB on i386 (socketcall, and time64 translations needed only for
 * SO_RCVTIMEO and SO_SNDTIMEO, which lb_timeo sets through libc). There is
 * no send or recv system call everywhere: sendto and recvfrom serve. */
int lb_bind(int fd, const struct sockaddr *a, socklen_t len);
int lb_connect(int fd, const struct sockaddr *a, socklen_t len);
int lb_getsockname(int fd, struct sockaddr *a, socklen_t *len);
int lb_getpeername(int fd, struct sockaddr *a, socklen_t *len);
int lb_listen(int fd, int backlog);
int lb_shutdown(int fd, int how);
int lb_ioctl(int fd, unsigned long req, void *arg);
int lb_setsockopt(int fd, int level, int name, const void *v, socklen_t len);
int lb_getsockopt(int fd, int level, int name, void *v, socklen_t *len);
ssize_t lb_sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *a, socklen_t len);
ssize_t lb_recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a, socklen_t *len);
/* SO_RCVTIMEO or SO_SNDTIMEO (OPT) of MS ms (0: none) */
void lb_timeo(int fd, int opt, long ms);
#define lb_send(fd, b, n, flags) lb_sendto(fd, b, n, flags, NULL, 0)
#define lb_recv(fd, b, n, flags) lb_recvfrom(fd, b, n, flags, NULL, NULL)
void *lb_mmap(size_t len);		/* anonymous, read-write; NULL on failure */
/* Signals have no handlers. lb_sigblock blocks SIGINT, SIGTERM and SIGHUP
 * (and SIGCHLD with CHLD) and returns the one signalfd that reports them,
 * for the poll of whoever waits; lb_signext reads one (0: none pending);
 * lb_sigdie runs the exit hooks, then dies by SIG as it would have;
 * lb_sigunblock lets the three kill again as they do by default. */
int lb_sigblock(int chld);
int lb_signext(void);
/* rt_sigprocmask(HOW) of the signals whose bit (1 << (sig - 1)) is set */
void lb_sigmask(int how, unsigned long bits);
_Noreturn void lb_sigdie(int sig);
void lb_sigunblock(void);
char *lb_strchr(const char *s, int c);
char *lb_strrchr(const char *s, int c);
char *lb_stpcpy(char *dst, const char *src);	/* returns the end of dst */

/* ---- the applet table (generated from Kbuild) ---- */
struct lb_applet {
	const char *name;
	int (*main)(char **argv);
};

#endif
