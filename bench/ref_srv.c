/* ref_srv - reference fixed-reply server: one epoll loop on 127.0.0.1
 * (kernel-chosen port, written to PORTFILE). Per connection: once the client
 * has sent something (or half-closed), read what is there, send REPLY, close.
 *
 * usage: ref_srv PORTFILE [REPLY]     (default reply "pong\n")
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void stop(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "usage: ref_srv PORTFILE [REPLY]\n"), 2;
	const char *reply = argc > 2 ? argv[2] : "pong\n";
	size_t rlen = strlen(reply);
	signal(SIGTERM, stop);
	signal(SIGINT, stop);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, len) || listen(l, 4096) ||
	    getsockname(l, (struct sockaddr *)&sa, &len))
		die("listen");
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) || rename(tmp, argv[1]))
		die(argv[1]);

	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = l }, evs[256];
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev))
		die("epoll");
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev.events = EPOLLIN;
					ev.data.fd = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev))
						close(c);
				}
				continue;
			}
			char buf[4096];
			ssize_t k;
			/* readable means data, EOF or an error: in each case answer */
			while ((k = read(fd, buf, sizeof(buf))) > 0)
				;
			if (write(fd, reply, rlen) < 0 && errno != EPIPE && errno != ECONNRESET)
				perror("write");
			close(fd);
		}
	}
}
