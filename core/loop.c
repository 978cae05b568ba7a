/* loop.c - the event loop the concurrent servers share (lo-serve, lo-echo -l).
 *
 * epoll, one callback per descriptor, and an idle list kept in order of
 * last activity: touching a connection moves it to the tail, so the head is
 * always the next to time out and the wait needs no timer heap.
 *
 * Signals arrive only inside epoll_pwait (they are blocked elsewhere), so a
 * SIGTERM can never slip in between a check and the wait.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int ep = -1;
static struct lb_conn idle = { .prev = &idle, .next = &idle };	/* sentinel */
static sigset_t waitmask;
static volatile sig_atomic_t pending;
static struct lb_conn *paused;
static uint64_t resume_at;
int lb_nconn;

static void on_sig(int sig)
{
	/* SIGCHLD only wakes the loop; a stop request wins over it */
	if (sig != SIGCHLD || !pending)
		pending = sig;
}

static uint64_t now_ms(void)
{
	return lb_now_us() / 1000;
}

void lb_loop_init(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGCHLD };
	struct sigaction sa;
	sigset_t block;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		lb_die_errno(EX_FAIL, "epoll");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&block);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&waitmask, sigs[i]);
}

static void unlink_idle(struct lb_conn *c)
{
	if (c->next) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		c->next = c->prev = NULL;
	}
}

void lb_loop_touch(struct lb_conn *c)
{
	if (!c->next || lb.idle_ms < 0)
		return;
	unlink_idle(c);
	c->last = now_ms();
	c->prev = idle.prev;
	c->next = &idle;
	idle.prev->next = c;
	idle.prev = c;
}

static void ctl(int op, struct lb_conn *c, unsigned ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(ep, op, c->fd, &e) && op != EPOLL_CTL_DEL)
		lb_die_errno(EX_FAIL, "epoll_ctl");
}

void lb_loop_add(struct lb_conn *c, unsigned ev, int timed)
{
	ctl(EPOLL_CTL_ADD, c, ev);
	c->next = c->prev = NULL;
	if (timed) {
		c->next = c;	/* mark as timed; touch links it */
		lb_loop_touch(c);
		lb_nconn++;
	}
}

void lb_loop_mod(struct lb_conn *c, unsigned ev)
{
	ctl(EPOLL_CTL_MOD, c, ev);
}

void lb_loop_del(struct lb_conn *c)
{
	ctl(EPOLL_CTL_DEL, c, 0);
	if (c->next) {
		unlink_idle(c);
		lb_nconn--;
	}
}

void lb_loop_pause(struct lb_conn *l, int ms)
{
	if (paused)
		return;
	ctl(EPOLL_CTL_DEL, l, 0);
	paused = l;
	resume_at = ms > 0 ? now_ms() + (uint64_t)ms : 0;
}

void lb_loop_resume(void)
{
	struct lb_conn *l = paused;
	if (l) {
		paused = NULL;
		ctl(EPOLL_CTL_ADD, l, EPOLLIN);
	}
}

int lb_loop_once(void)
{
	struct epoll_event ev[64];
	int timeout = -1;
	uint64_t now = now_ms();

	if (lb.idle_ms >= 0 && idle.next != &idle) {
		uint64_t due = idle.next->last + (uint64_t)lb.idle_ms;
		timeout = due > now ? (int)(due - now) : 0;
	}
	if (paused && resume_at) {
		int t = resume_at > now ? (int)(resume_at - now) : 0;
		if (timeout < 0 || t < timeout)
			timeout = t;
	}
	int n = epoll_pwait(ep, ev, 64, timeout, &waitmask);
	if (n < 0 && errno != EINTR)
		lb_die_errno(EX_FAIL, "epoll_wait");
	for (int i = 0; i < n; i++) {
		struct lb_conn *c = ev[i].data.ptr;
		lb_loop_touch(c);
		c->fn(c, ev[i].events);
	}
	now = now_ms();
	if (paused && resume_at && now >= resume_at)
		lb_loop_resume();
	/* Expire from the head: the callback closes (lb_loop_del) or touches. */
	while (lb.idle_ms >= 0 && idle.next != &idle && idle.next->last + (uint64_t)lb.idle_ms <= now) {
		struct lb_conn *c = idle.next;
		c->fn(c, 0);
		if (idle.next == c)	/* the callback kept it: do not loop on it */
			lb_loop_touch(c);
	}
	int sig = pending;
	pending = 0;
	return sig;
}
