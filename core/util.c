/* util.c - messages, exits and numbers, without stdio.
 *
 * printf would pull about 10 KB of libc into a binary meant to stay under
 * 40 KiB, so messages are assembled from strings and written with one
 * write(2): a line never interleaves with another process's.
 */
#include "lb.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static void (*cleanup[LB_NEXIT])(void);
static int ncleanup;

/* The strings S... into one buffer and one write(2); LINE: as a message
 * line, "APPLET: " before and a newline after. */
int lb_live;

static void vput(int fd, int line, const char *s, va_list ap)
{
	char buf[1024], *b = buf;
	size_t n = 0;

	if (fd == 2 && lb_live) {	/* \r, erase the line */
		memcpy(buf, "\r\033[K", 4);
		n = 4;
		lb_live = 0;
	}

	const char *p = s;
	if (line)
		p = lb.name;
	else if (s)
		s = va_arg(ap, const char *);
	for (; p; p = s, s = s ? va_arg(ap, const char *) : NULL) {
		size_t l = strlen(p);
		if (l > sizeof(buf) - 4 - n)
			l = sizeof(buf) - 4 - n;
		memcpy(buf + n, p, l);
		n += l;
		if (line == 1) {	/* after the name */
			line = 2;
			buf[n++] = ':';
			buf[n++] = ' ';
		}
	}
	if (line)
		buf[n++] = '\n';
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

void lb_write(int fd, const char *s, ...)
{
	va_list ap;
	va_start(ap, s);
	vput(fd, 0, s, ap);
	va_end(ap);
}

void lb_say(const char *s, ...)
{
	va_list ap;
	if (lb.quiet)
		return;
	va_start(ap, s);
	vput(2, 1, s, ap);
	va_end(ap);
}

void lb_atexit(void (*fn)(void))
{
	if (ncleanup < LB_NEXIT)
		cleanup[ncleanup++] = fn;
}

_Noreturn void lb_exit(int code)
{
	while (ncleanup)
		cleanup[--ncleanup]();
	_exit(code);
}

_Noreturn void lb_die(int code, const char *what, const char *why)
{
	lb_write(2, lb.name, ": ", what, why ? ": " : "", why ? why : "", "\n", NULL);
	lb_exit(code);
}

/* Our own words for the errors a socket tool meets: the same text under
 * musl and glibc ("address already in use", where musl says "Address in
 * use"), and 1.2 KB smaller than libc's whole table. */
static const unsigned char errnum[] = {
	EPERM, ENOENT, EINTR, EIO, EBADF, EAGAIN, ENOMEM, EACCES, EEXIST,
	ENOTDIR, EISDIR, EINVAL, ENFILE, EMFILE, ETXTBSY, EFBIG, ENOSPC, EROFS,
	EPIPE, ENAMETOOLONG, ELOOP, ENOEXEC, E2BIG, ENOTSOCK, EPROTONOSUPPORT,
	EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH,
	ECONNABORTED, ECONNRESET, ENOBUFS, ENOTCONN, ETIMEDOUT, ECONNREFUSED,
	EHOSTUNREACH, EDQUOT, EMSGSIZE, ENODEV, ENXIO, ECHILD, ESRCH, ESPIPE
};
static const char errtxt[] =
	"operation not permitted\0"
	"no such file or directory\0"
	"interrupted system call\0"
	"input/output error\0"
	"bad file descriptor\0"
	"resource temporarily unavailable\0"
	"cannot allocate memory\0"
	"permission denied\0"
	"file exists\0"
	"not a directory\0"
	"is a directory\0"
	"invalid argument\0"
	"too many open files in system\0"
	"too many open files\0"
	"text file busy\0"
	"file too large\0"
	"no space left on device\0"
	"read-only file system\0"
	"broken pipe\0"
	"file name too long\0"
	"too many levels of symbolic links\0"
	"exec format error\0"
	"argument list too long\0"
	"socket operation on non-socket\0"
	"protocol not supported\0"
	"address family not supported by protocol\0"
	"address already in use\0"
	"cannot assign requested address\0"
	"network is down\0"
	"network is unreachable\0"
	"software caused connection abort\0"
	"connection reset by peer\0"
	"no buffer space available\0"
	"transport endpoint is not connected\0"
	"connection timed out\0"
	"connection refused\0"
	"no route to host\0"
	"disk quota exceeded\0"
	"message too long\0"
	"no such device\0"
	"no such device or address\0"
	"no child processes\0"
	"no such process\0"
	"illegal seek\0";

const char *lb_strerror(int err)
{
	static char other[24] = "error ";
	const char *s = errtxt;

	for (size_t i = 0; i < sizeof(errnum); i++, s += strlen(s) + 1)
		if (errnum[i] == err)
			return s;
	lb_utoa(other + 6, (uint64_t)(unsigned)err);
	return other;
}

_Noreturn void lb_die_errno(int code, const char *what)
{
	lb_die(code, what, lb_strerror(errno));
}

char *lb_utoa(char *buf, uint64_t n)
{
	char tmp[24];
	int i = 0;
	do
		tmp[i++] = '0' + n % 10;
	while (n /= 10);
	for (int j = 0; j < i; j++)
		buf[j] = tmp[i - 1 - j];
	buf[i] = 0;
	return buf;
}

/* Text into [P, END): F's '#' takes a uint64_t, '$' a string, '@' a
 * string escaped for JSON; any other character stands for itself, but a
 * ',' right after a '{' or '[' is left out (JSON's separators). Returns the
 * end, unterminated. (lo-echo's one formatter, for its notes and its
 * report: musl's printf core is about 10 KB.) */
char *lb_vfmt(char *p, char *end, const char *f, va_list ap)
{
	char b[24];

	for (; *f; f++) {
		const char *s = b;
		if (*f == ',' && (p[-1] == '{' || p[-1] == '['))
			continue;
		if (*f == '#')
			lb_utoa(b, va_arg(ap, uint64_t));
		else if (*f == '$' || *f == '@')
			s = va_arg(ap, const char *);
		else
			b[0] = *f, b[1] = 0;
		for (char c; (c = *s) && p < end - 1; s++) {	/* (room for an escape) */
			if (*f == '@') {
				if (c == '"' || c == '\\')
					*p++ = '\\';
				if ((unsigned char)c < ' ')
					c = '?';
			}
			*p++ = c;
		}
	}
	return p;
}

/* n/div with DIGITS decimals, rounded: lb_fixed(b, 1234, 1000, 2) = "1.23" */
char *lb_fixed(char *buf, uint64_t n, unsigned div, int digits)
{
	uint64_t scale = 1;
	for (int i = 0; i < digits; i++)
		scale *= 10;
	uint64_t v = (n * scale + div / 2) / div;
	char *p = lb_utoa(buf, v / scale);
	if (digits) {
		p += strlen(p);
		*p++ = '.';
		char frac[24];
		lb_utoa(frac, v % scale + scale);	/* leading 1 keeps the zeros */
		lb_stpcpy(p, frac + 1);
	}
	return buf;
}

/* Decimal, all digits, no sign, no overflow, <= max. With SUFFIXES a
 * trailing K, M or G (binary) multiplies. */
int lb_num(const char *s, uint64_t *out, uint64_t max, int suffixes)
{
	uint64_t v = 0, mul = 1;
	const char *d;

	if (!s)
		return -1;
	for (d = s; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (s == d)
		return -1;
	if (suffixes && *s && !s[1]) {
		const char *u = lb_strchr("KMG", *s & ~0x20);
		if (u && *u) {
			mul = 1ULL << (10 * (u - "KMG" + 1));
			s++;
		}
	}
	if (*s || v > max / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* "2", "0.5", ".5", "5." seconds -> milliseconds, decimals past the third
 * dropped; at most a day. */
long lb_secs(const char *s)
{
	uint64_t whole = 0, ms = 0;
	unsigned scale = 1000;
	int dot = 0, digits = 0;

	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (*s == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (d > 9)
			return -1;
		digits = 1;
		if (!dot) {
			whole = whole * 10 + d;
			if (whole > 86400)
				return -1;
		} else if (scale > 1) {
			scale /= 10;
			ms += d * scale;
		}
	}
	whole = whole * 1000 + ms;
	return !digits || whole > 86400000 ? -1 : (long)whole;	/* a day, exactly */
}

/* No signal ever has a handler here: musl's sigaction and the lock it
 * takes are 1.1 KB. A signal loopbox acts on is blocked while it waits,
 * and read from a signalfd in the same poll as the rest. */
static int sigfd = -1;

/* The kernel's sigset: bit SIG - 1, in longs of the machine's order;
 * (_NSIG - 1) / 8 bytes (8; MIPS: 16). Raw calls: musl's sigprocmask and
 * signalfd add their own signals' handling, which nothing here needs. */
#define SIGSETSZ ((_NSIG - 1) / 8)
#define BIT(sig) (1UL << ((sig) - 1))

void lb_sigmask(int how, unsigned long bits)
{
	unsigned long m[SIGSETSZ / sizeof(long)] = { bits };
	syscall(SYS_rt_sigprocmask, how, m, NULL, SIGSETSZ);
}

int lb_sigblock(int chld)
{
	unsigned long m[SIGSETSZ / sizeof(long)] = {
		BIT(SIGINT) | BIT(SIGTERM) | BIT(SIGHUP) | (chld ? BIT(SIGCHLD) : 0)
	};

	lb_sigmask(SIG_BLOCK, m[0]);
	sigfd = (int)syscall(SYS_signalfd4, sigfd, m, SIGSETSZ, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		lb_die_errno(EX_FAIL, "signalfd");
	return sigfd;
}

void lb_sigunblock(void)
{
	lb_sigmask(SIG_UNBLOCK, BIT(SIGINT) | BIT(SIGTERM) | BIT(SIGHUP));
}

int lb_signext(void)
{
	struct signalfd_siginfo si;

	return read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) ? (int)si.ssi_signo : 0;
}

_Noreturn void lb_sigdie(int sig)
{
	lb_write(2, NULL);	/* no live line left behind */
	while (ncleanup)
		cleanup[--ncleanup]();
	syscall(SYS_kill, syscall(SYS_getpid), sig);	/* pending: it kills once unblocked */
	lb_sigmask(SIG_UNBLOCK, BIT(sig));
	_exit(128 + sig);	/* (not reached: SIGINT, SIGTERM and SIGHUP kill) */
}

/* SO_RCVTIMEO or SO_SNDTIMEO (OPT) of MS ms, 0: none. libc's setsockopt,
 * not ours: on 32-bit machines musl's option is the kernel's *_NEW with a
 * 64-bit timeval, which it turns into the old one where the kernel (before
 * 5.1, or qemu-user) lacks the new. */
void lb_timeo(int fd, int opt, long ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* The socket calls (lb.h says why): one line each, a plain system call */
int lb_bind(int fd, const struct sockaddr *a, socklen_t len) { return (int)syscall(SYS_bind, fd, a, len); }
int lb_connect(int fd, const struct sockaddr *a, socklen_t len) { return (int)syscall(SYS_connect, fd, a, len); }
int lb_getsockname(int fd, struct sockaddr *a, socklen_t *len) { return (int)syscall(SYS_getsockname, fd, a, len); }
int lb_getpeername(int fd, struct sockaddr *a, socklen_t *len) { return (int)syscall(SYS_getpeername, fd, a, len); }
int lb_listen(int fd, int backlog) { return (int)syscall(SYS_listen, fd, backlog); }
int lb_shutdown(int fd, int how) { return (int)syscall(SYS_shutdown, fd, how); }
int lb_ioctl(int fd, unsigned long req, void *arg) { return (int)syscall(SYS_ioctl, fd, req, arg); }
int lb_setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, level, name, v, len);
}
int lb_getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
	return (int)syscall(SYS_getsockopt, fd, level, name, v, len);
}
ssize_t lb_sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *a, socklen_t len)
{
	return syscall(SYS_sendto, fd, b, n, flags, a, len);
}
ssize_t lb_recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a, socklen_t *len)
{
	return syscall(SYS_recvfrom, fd, b, n, flags, a, len);
}

void *lb_mmap(size_t len)
{
#ifdef SYS_mmap2	/* 32-bit: the offset counts pages */
	long n = SYS_mmap2;
#else
	long n = SYS_mmap;
#endif
	void *p = (void *)syscall(n, NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
	return p == MAP_FAILED ? NULL : p;
}

char *lb_strchr(const char *s, int c)
{
	for (; *s != (char)c; s++)
		if (!*s)
			return NULL;
	return (char *)s;
}

char *lb_strrchr(const char *s, int c)
{
	const char *r = NULL;
	do
		if (*s == (char)c)
			r = s;
	while (*s++);
	return (char *)r;
}

char *lb_stpcpy(char *d, const char *s)
{
	while ((*d = *s++))
		d++;
	return d;
}

int lb_tmpfileat(int dir, const char *path, char *tmp, size_t size)
{
	size_t n = strlen(path);
	uint8_t r[8];

	if (n + 18 > size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *p = lb_stpcpy(lb_stpcpy(tmp, path), ".");
	if (syscall(SYS_getrandom, r, sizeof(r), 0) != sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++) {
		*p++ = "0123456789abcdef"[r[i] >> 4];
		*p++ = "0123456789abcdef"[r[i] & 15];
	}
	*p = 0;
	return (int)syscall(SYS_openat, dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_LARGEFILE, 0666);
}

/* The monotonic clock from the kernel's vDSO, as musl's clock_gettime
 * reads it, without musl's general symbol lookup (700 B): the one symbol,
 * from the vDSO's own hash table's count of symbols. A system call where
 * there is no vDSO (qemu-user) or no such symbol. Both take the kernel's
 * old timespec of two longs, which CLOCK_MONOTONIC (time since boot) can
 * never outgrow, on 32-bit machines too. */
struct kts {
	long s, ns;
};
static long (*vdso_cgt)(long, struct kts *);

#ifdef SYS_clock_gettime32	/* musl's name, on 32-bit machines, for the old one */
#define SYS_CGT SYS_clock_gettime32
#else
#define SYS_CGT SYS_clock_gettime
#endif
#if defined(__aarch64__) || defined(__powerpc__) || defined(__s390__)
#define CGT_SYM "__kernel_clock_gettime"
#else
#define CGT_SYM "__vdso_clock_gettime"
#endif

static void *vdso_sym(const char *name)
{
	const char *b = (const char *)getauxval(AT_SYSINFO_EHDR), *base = NULL, *str = NULL;
	const ElfW(Ehdr) *eh = (const void *)b;
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Sym) *sym = NULL;
	const Elf_Symndx *hash = NULL;

	if (!b)
		return NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		const ElfW(Phdr) *ph = (const void *)(b + eh->e_phoff + (size_t)i * eh->e_phentsize);
		if (ph->p_type == PT_LOAD)
			base = b + ph->p_offset - ph->p_vaddr;
		else if (ph->p_type == PT_DYNAMIC)
			dyn = (const void *)(b + ph->p_offset);
	}
	for (; dyn && base && dyn->d_tag != DT_NULL; dyn++) {
		const void *p = base + dyn->d_un.d_ptr;
		if (dyn->d_tag == DT_STRTAB)
			str = p;
		else if (dyn->d_tag == DT_SYMTAB)
			sym = p;
		else if (dyn->d_tag == DT_HASH)
			hash = p;
	}
	for (Elf_Symndx i = 0; str && sym && hash && i < hash[1]; i++)
		if (sym[i].st_shndx && !strcmp(str + sym[i].st_name, name))
			return (void *)(base + sym[i].st_value);
	return NULL;
}

uint64_t lb_now_ns(void)
{
	static int looked;
	struct kts t;

	if (!looked++)
		vdso_cgt = (long (*)(long, struct kts *))vdso_sym(CGT_SYM);
	if (!vdso_cgt || vdso_cgt(CLOCK_MONOTONIC, &t))
		syscall(SYS_CGT, CLOCK_MONOTONIC, &t);
	return (uint64_t)t.s * 1000000000u + (uint64_t)t.ns;
}

uint64_t lb_now_us(void)
{
	return lb_now_ns() / 1000;
}
