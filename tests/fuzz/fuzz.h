/* fuzz.h - what every loopbox libFuzzer target shares.
 *
 * The core's error paths end in lb_exit() -> _exit(). Every file of the
 * core (and the applet a target #includes) is compiled with
 * -D_exit=lb_fuzz_exit, so that exit comes back here instead: a longjmp to
 * the entry of the current input, with the exit code. Nothing in core/ is
 * changed; lb_exit() still runs its cleanup hook first, as in the binary.
 *
 * socket() is interposed (defined here, so it wins over libc's) to count
 * the sockets a parser makes: it must make none. The lowest free
 * descriptor is compared before and after each input as well.
 */
#ifndef LB_FUZZ_H
#define LB_FUZZ_H

#include "lb.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libFuzzer's -close_fd_mask=3 closes stderr: keep a copy for our reports */
static int fz_err = 2;
__attribute__((constructor)) static void fz_keep_stderr(void)
{
	int fd = fcntl(2, F_DUPFD_CLOEXEC, 200);
	if (fd >= 0)
		fz_err = fd;
}

static jmp_buf fz_jb;
static volatile int fz_armed, fz_code;
static volatile unsigned long fz_sockets;

/* what lb_exit() calls instead of _exit() */
_Noreturn void lb_fuzz_exit(int code)
{
	if (!fz_armed) {
		dprintf(fz_err, "fuzz: exit %d outside a parser\n", code);
		abort();
	}
	fz_armed = 0;
	fz_code = code;
	longjmp(fz_jb, 1);
}

int socket(int domain, int type, int proto)
{
	fz_sockets++;
	return (int)syscall(SYS_socket, domain, type, proto);
}

/* FZ_CALL(stmt): run stmt; -1 if it returned, else the exit code */
#define FZ_CALL(stmt) (setjmp(fz_jb) ? fz_code : (fz_armed = 1, (stmt), fz_armed = 0, -1))

#define FZ_ASSERT(c, ...) do { if (!(c)) { \
	dprintf(fz_err, "fuzz: %s:%d: assertion failed: %s: ", __FILE__, __LINE__, #c); \
	dprintf(fz_err, __VA_ARGS__); dprintf(fz_err, "\n"); abort(); } } while (0)

/* every static state a parser touches, as a fresh process has it (no
 * target listens, so no exit hook is ever added) */
static void fz_reset(const char *name)
{
	memset(&lb_opts, 0, sizeof(lb_opts));
	lb_opts.name = name;
}

static int fz_lowfd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd;
}

/* a NUL-terminated copy of the input in a buffer of its own size, so
 * that ASan sees any read past the end */
static char *fz_str(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);
	memcpy(s, d, n);
	s[n] = 0;
	return s;
}

#endif
