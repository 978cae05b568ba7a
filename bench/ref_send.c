/* ref_send - reference bulk sender: read(2) 1 MiB at a time from FILE (or
 * stdin), write(2) it to 127.0.0.1:PORT, half-close, wait for the peer's
 * EOF. Plain blocking syscalls: the ceiling loopbox is measured against.
 * A pipe on stdin is grown to 1 MiB (fcntl F_SETPIPE_SZ), as loopbox does.
 *
 * usage: ref_send PORT [FILE]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
static char buf[BUFSZ];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "usage: ref_send PORT [FILE]\n"), 2;
	int in = argc > 2 ? open(argv[2], O_RDONLY) : 0;
	if (in < 0)
		die(argv[2]);
	fcntl(in, F_SETPIPE_SZ, BUFSZ);	/* when stdin is a pipe: 1 MiB, not 64 KiB */
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	for (;;) {
		ssize_t n = read(in, buf, BUFSZ);
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(s, buf + off, (size_t)(n - off));
			if (w < 0)
				die("write");
			off += w;
		}
	}
	shutdown(s, SHUT_WR);
	while (read(s, buf, BUFSZ) > 0)
		;
	return 0;
}
