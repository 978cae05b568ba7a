/* conn_load - connection-rate load: CLIENTS processes, each in a loop for
 * SECS seconds: connect to 127.0.0.1:PORT, send one byte, read the reply
 * until EOF, close. Prints "CLEAN RESET FAILED CONN_PER_SEC": CLEAN got a
 * reply and then EOF, RESET a reply and then a reset (a server that closes
 * with the request unread), FAILED no reply. The rate counts CLEAN + RESET.
 *
 * usage: conn_load PORT SECS CLIENTS
 *        conn_load -i PORT N SECS     hold N idle connections for SECS,
 *                                     print how many were made
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in sa;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dial(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 2, 0 };	/* no single step may hang */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return s;
	if (s >= 0)
		close(s);
	return -1;
}

/* one connection: 1 reply and EOF, 2 reply and reset, 0 no reply */
static int once(void)
{
	char b[4096];
	ssize_t n, got = 0;
	int s = dial();
	if (s < 0)
		return 0;
	if (write(s, "x", 1) != 1) {
		close(s);
		return 0;
	}
	while ((n = read(s, b, sizeof(b))) > 0)
		got += n;
	close(s);
	return got == 0 ? 0 : n == 0 ? 1 : 2;
}

int main(int argc, char **argv)
{
	int idle = argc == 5 && !strcmp(argv[1], "-i");
	if (argc != 4 && !idle)
		return fprintf(stderr, "usage: conn_load PORT SECS CLIENTS | -i PORT N SECS\n"), 2;
	sa.sin_family = AF_INET;
	sa.sin_port = htons(atoi(argv[1 + idle]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	if (idle) {
		int n = atoi(argv[3]), made = 0;
		for (int i = 0; i < n; i++)
			made += dial() >= 0;
		printf("%d\n", made);
		fflush(stdout);
		sleep((unsigned)atoi(argv[4]));
		return made != n;
	}
	double secs = atof(argv[2]);
	int clients = atoi(argv[3]), p[2];
	if (pipe(p))
		return perror("pipe"), 1;
	double t0 = now(), end = t0 + secs;
	for (int c = 0; c < clients; c++) {
		if (fork() == 0) {
			long k[3] = { 0, 0, 0 };
			while (now() < end)
				k[once()]++;
			dprintf(p[1], "%ld %ld %ld\n", k[1], k[2], k[0]);
			_exit(0);
		}
	}
	close(p[1]);
	while (wait(NULL) > 0)
		;
	double dt = now() - t0;
	long ok = 0, rst = 0, bad = 0, a, b, c;
	FILE *f = fdopen(p[0], "r");
	while (fscanf(f, "%ld %ld %ld", &a, &b, &c) == 3)
		ok += a, rst += b, bad += c;
	printf("%ld %ld %ld %.1f\n", ok, rst, bad, (double)(ok + rst) / dt);
	return 0;
}
