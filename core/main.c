/* main.c - multicall dispatch: run the applet named by argv[0], or by the
 * first argument of "loopbox APPLET ...".
 *
 * The applet table is generated from Kbuild (obj/applets.h), so an applet
 * configured out is missing from the table, --list, --help and the bytes.
 */
#include "lb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define APPLET(fn, name) int fn##_main(char **argv);
#include "applets.h"
#undef APPLET

static const struct lb_applet applets[] = {
#define APPLET(fn, name) { name, fn##_main },
#include "applets.h"
#undef APPLET
};
#define NAPPLETS (sizeof(applets) / sizeof(applets[0]))

#ifndef LB_VERSION
#define LB_VERSION "0.1"
#endif

static const char help[] =
	"loopbox " LB_VERSION " - loopback socket tools in one binary\n\n"
	"usage: loopbox APPLET [ARGS...]   run an applet (or call it through a link)\n"
	"       loopbox --list             the applets built in, one per line\n"
	"       loopbox --install [-s] DIR a hard (-s: symbolic) link per applet in DIR\n"
	"       loopbox --help | --version\n\n"
	"applets:";

static const char *base(const char *s)
{
	const char *p = lb_strrchr(s, '/');
	return p ? p + 1 : s;
}

/* The running binary's path: /proc/self/exe, or argv[0] where /proc is
 * not mounted yet (early initramfs). */
static const char *self(const char *argv0, char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n > 0) {
		buf[n] = 0;
		return buf;
	}
	return argv0;
}

static int install(char **argv, const char *argv0)
{
	char exe[4096], dst[4096];
	int sym = argv[0] && !strcmp(argv[0], "-s");
	const char *dir = argv[sym];

	if (!dir || argv[sym + 1])
		lb_die(EX_USAGE, "--install", "usage: loopbox --install [-s] DIR");
	const char *src = self(argv0, exe, sizeof(exe));
	if (!sym && !lb_strchr(src, '/'))
		lb_die(EX_FAIL, "--install", "cannot find the loopbox binary (mount /proc)");
	for (size_t i = 0; i < NAPPLETS; i++) {
		size_t n = strlen(dir);
		if (n + strlen(applets[i].name) + 2 > sizeof(dst))
			lb_die(EX_USAGE, dir, "path too long");
		memcpy(dst, dir, n);
		dst[n] = '/';
		lb_stpcpy(dst + n + 1, applets[i].name);
		if (unlink(dst) && errno != ENOENT)
			lb_die_errno(EX_FAIL, dst);
		if (sym ? symlink(src, dst) : link(src, dst))
			lb_die_errno(EX_FAIL, dst);
	}
	return EX_OK;
}

static int multi(char **argv)
{
	const char *a = argv[1];

	if (!a || !strcmp(a, "--help") || !strcmp(a, "-h")) {
		lb_write(a ? 1 : 2, help, NULL);
		for (size_t i = 0; i < NAPPLETS; i++)
			lb_write(a ? 1 : 2, " ", applets[i].name, NULL);
		lb_write(a ? 1 : 2, "\n", NULL);
		return a ? EX_OK : EX_USAGE;
	}
	if (!strcmp(a, "--version")) {
		lb_write(1, "loopbox " LB_VERSION "\n", NULL);
		return EX_OK;
	}
	if (!strcmp(a, "--list")) {
		for (size_t i = 0; i < NAPPLETS; i++)
			lb_write(1, applets[i].name, "\n", NULL);
		return EX_OK;
	}
	if (!strcmp(a, "--install"))
		return install(argv + 2, argv[0]);
	return -1;
}

int main(int argc, char **argv)
{
	const char *name = argc > 0 ? base(argv[0]) : "loopbox";

	(void)argc;
	lb_opts.name = "loopbox";
	/* A closed 0, 1 or 2 would be taken by our socket, and its bytes read
	 * as stdin or written as stdout. Fill each hole with /dev/null opened
	 * the wrong way round, so any use still fails (EBADF), as it would. */
	for (int fd = 0; fd < 3; fd++)
		if (lb_fcntl(fd, F_GETFD, 0) < 0 && lb_open("/dev/null", fd ? O_RDONLY : O_WRONLY, 0) != fd)
			return EX_FAIL;
	/* A vanished peer is an error we report, not a signal that kills:
	 * blocked rather than ignored, with no sigaction linked in; a PROG
	 * that lo-serve runs gets an empty mask. */
	lb_sigmask(SIG_BLOCK, 1UL << (SIGPIPE - 1));
	if (!strncmp(name, "loopbox", 7)) {
		int r = multi(argv);
		if (r >= 0)
			return r;
		argv++;
		name = argv[0];
	}
	for (size_t i = 0; i < NAPPLETS; i++) {
		if (!strcmp(name, applets[i].name)) {
			lb_opts.name = applets[i].name;
			lb_exit(applets[i].main(argv));
		}
	}
	lb_die(EX_NOAPPLET, name, "applet not found");
}
