/* ref_recv - reference bulk receiver: listen on 127.0.0.1 (kernel-chosen
 * port, written to PORTFILE), accept one connection and copy it to stdout
 * until EOF.
 *
 *   ref_recv PORTFILE      read(2) 1 MiB into a buffer, write(2) to stdout
 *   ref_recv -s PORTFILE   splice(2): socket -> stdout when stdout is a
 *                          pipe (grown to 1 MiB), else socket -> pipe -> stdout
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1 << 20)
static char buf[BUFSZ];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0)
			die("write");
		b += w;
		n -= (size_t)w;
	}
}

/* splice exactly n bytes from a pipe to out */
static void drain(int p, int out, ssize_t n)
{
	while (n > 0) {
		ssize_t k = splice(p, NULL, out, NULL, (size_t)n, SPLICE_F_MOVE);
		if (k <= 0)
			die("splice to stdout");
		n -= k;
	}
}

int main(int argc, char **argv)
{
	int sp = argc > 2 && !strcmp(argv[1], "-s");
	if (argc != 2 + sp)
		return fprintf(stderr, "usage: ref_recv [-s] PORTFILE\n"), 2;
	const char *pf = argv[1 + sp];

	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		die("listen");
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", pf);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) || rename(tmp, pf))
		die(pf);
	int s = accept(l, NULL, NULL);
	if (s < 0)
		die("accept");

	if (!sp) {
		ssize_t n;
		while ((n = read(s, buf, BUFSZ)) > 0)
			write_all(1, buf, (size_t)n);
		if (n < 0)
			die("read");
		return 0;
	}
	struct stat st;
	int direct = !fstat(1, &st) && S_ISFIFO(st.st_mode);
	int p[2] = { -1, 1 };	/* direct: splice into stdout itself */
	if (!direct && pipe(p))
		die("pipe");
	fcntl(p[1], F_SETPIPE_SZ, BUFSZ);	/* 64 KiB pipes cost a wake-up per 16 pages */
	for (;;) {
		ssize_t n = splice(s, NULL, p[1], NULL, BUFSZ, SPLICE_F_MOVE);
		if (n < 0)
			die("splice from socket");
		if (n == 0)
			return 0;
		if (!direct)
			drain(p[0], 1, n);
	}
}
