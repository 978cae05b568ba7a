/* tests/seccomp.c - run a command under a seccomp filter that makes one
 * system call fail: the sandbox the doctor must name (t-doctor.sh).
 *
 *	seccomp CALL ERRNO [ARG0] -- CMD [ARGS...]
 *
 * CALL is socket, bind, connect or sendto; with ARG0 only calls whose
 * first argument is ARG0 fail (socket: the address family). Built by the
 * test with the system compiler (it needs <linux/...> headers). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const struct { const char *name; long nr; } calls[] = {
		{ "socket", SYS_socket }, { "bind", SYS_bind },
		{ "connect", SYS_connect }, { "sendto", SYS_sendto },
	};
	long nr = -1;
	int i = 3, arg0 = -1;

	if (argc < 5)
		goto usage;
	for (size_t j = 0; j < sizeof(calls) / sizeof(calls[0]); j++)
		if (!strcmp(argv[1], calls[j].name))
			nr = calls[j].nr;
	if (strcmp(argv[i], "--"))
		arg0 = atoi(argv[i++]);
	if (nr < 0 || strcmp(argv[i], "--") || !argv[i + 1])
		goto usage;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)arg0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (atoi(argv[2]) & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	if (arg0 < 0)	/* every call: no test of the argument */
		f[2] = f[3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p)) {
		perror("seccomp");
		return 126;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror(argv[i + 1]);
	return 127;
usage:
	fputs("usage: seccomp socket|bind|connect|sendto ERRNO [ARG0] -- CMD [ARGS...]\n", stderr);
	return 2;
}
