/* lb.h - the loopbox core: what every applet shares.
 *
 * Conventions (toybox-style): x-prefixed helpers print the error and exit,
 * so applet code reads as the happy path. Exit codes are the SPEC's.
 */
#ifndef LB_H
#define LB_H

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

/* ---- the parsed command line: one struct for all applets ---- */

/* Option letters, in the order of the bit they set in lb.seen. */
#define LB_LETTERS "pa6uUPtwvqhmokcfenAlsBJ"
/* folds to a constant for a literal letter: no call in the applets */
#define OPT(c) (1ULL << (__builtin_strchr(LB_LETTERS, (c)) - LB_LETTERS))
int lb_optbit(int c);

struct lb_addr {
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
};

struct lb {
	const char *name;	/* applet name, for messages */
	uint64_t seen;		/* OPT(c) for each option given */
	int port;		/* -p, -1 when absent */
	const char *addr;	/* -a text (default 127.0.0.1) */
	const char *path;	/* -U */
	const char *portfile;	/* -P */
	long idle_ms;		/* -t, -1 when absent */
	long wait_ms;		/* -w, 0 when absent */
	int verbose;		/* -v */
	const char *msg;	/* -m */
	const char *out;	/* -o */
	const char *file;	/* -f */
	char **exec;		/* -e PROG ARGS... (NULL-terminated) */
	uint64_t count;		/* -c */
	uint64_t max;		/* -n */
	const char *uids;	/* -A */
	uint64_t size;		/* -s */
	uint64_t bulk;		/* -B */
	const char *longopt;	/* the one applet-specific --word allowed */
	char **args;		/* operands left after the options */
	int nargs;
	struct lb_addr sa;	/* the resolved endpoint */
};
extern struct lb lb;

/* Parse argv against the letters in OPTS (a subset of LB_LETTERS) and the
 * one long option LONGW (may be NULL). Prints USAGE for -h/--help. */
void lb_parse(char **argv, const char *opts, const char *longw, const char *usage);

/* ---- messages and exits ---- */
void lb_write(int fd, const char *s, ...);	/* NULL-terminated strings */
void lb_say(const char *s, ...);		/* "APPLET: " ... "\n", unless -q */
_Noreturn void lb_die(int code, const char *what, const char *why);
_Noreturn void lb_die_errno(int code, const char *what);
const char *lb_strerror(int err);
char *lb_utoa(char *buf, uint64_t n);	/* returns buf, NUL-terminated */
char *lb_fixed(char *buf, uint64_t n, unsigned div, int digits);
void lb_atexit(void (*fn)(void));	/* one cleanup hook, run by lb_exit */
_Noreturn void lb_exit(int code);
int lb_quiet(void);

/* ---- numbers ---- */
/* All return -1 (and print nothing) on malformed input. */
int lb_num(const char *s, uint64_t *out, uint64_t max, int suffixes);
long lb_secs(const char *s);		/* "1.5" -> 1500 ms */
uint64_t lb_now_us(void);		/* monotonic */

/* ---- sockets ---- */
void lb_resolve(int listener);		/* lb.addr/-6/-U/-p -> lb.sa, exit 2 if bad */
const char *lb_addrstr(const struct lb_addr *a);	/* "127.0.0.1:80", "[::1]:80", "/p" */
int lb_listen(int type);		/* bound, listening, -P written */
int lb_connect(int type);		/* honours -w */
int lb_accept(int lfd, struct lb_addr *peer);	/* honours -t */
_Noreturn void lb_net_die(int err, const char *what);	/* diagnoses lo */
void lb_linger(int fd, int abort);	/* abort=1: any close() resets */
int lb_lo_state(int family);		/* 0 fine, else an explanation index */

/* ---- the copy loop ---- */
struct lb_pump {
	int sock;
	/* towards the socket: a message, then files (NULL: stdin) */
	const char *msg;
	size_t msglen;
	int *files;
	int nfiles;
	int gate;		/* hold the message until the peer speaks */
	int shut;		/* shutdown(SHUT_WR) when the source is done */
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
void *lb_mmap(size_t len);		/* anonymous, read-write; NULL on failure */
void lb_signal(int sig, void (*fn)(int));	/* sigaction, no flags */
char *lb_strchr(const char *s, int c);
char *lb_strrchr(const char *s, int c);
char *lb_stpcpy(char *dst, const char *src);	/* returns the end of dst */

/* ---- the applet table (generated from Kbuild) ---- */
struct lb_applet {
	const char *name;
	int (*main)(char **argv);
};

#endif
