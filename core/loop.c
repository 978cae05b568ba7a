/* loop.c - the event loop the concurrent servers share (lo-serve, lo-echo -l),
 * and their one accept loop (lb_loop_accept) and -c COUNT.
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
#include <sys/mman.h>
#include <unistd.h>

static int ep = -1;
static struct lb_conn idle = { .prev = &idle, .next = &idle };	/* sentinel */
static struct lb_conn linger = { .prev = &linger, .next = &linger };	/* served, closing */
static int stop_sig, chld;
static struct lb_conn *paused;
static uint64_t resume_at, wake_at;

/* The signalfd: a stop request is kept apart from a child's exit, so that
 * one never hides the other; SIGHUP kills, as it would by default. */
static void on_signal(struct lb_conn *c, unsigned ev)
{
	int sig;

	(void)c;
	(void)ev;
	while ((sig = lb_signext())) {
		if (sig == SIGHUP)
			lb_sigdie(sig);
		if (sig == SIGCHLD)
			chld = 1;
		else
			stop_sig = sig;
	}
}
static struct lb_conn sigconn = { .fn = on_signal };

static uint64_t now_ms(void)
{
	return lb_now_us() / 1000;
}

void lb_loop_init(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		lb_die_errno(EX_FAIL, "epoll");
	sigconn.fd = lb_sigblock(1);
	lb_loop_add(&sigconn, EPOLLIN, 0);
}

static void unlink_idle(struct lb_conn *c)
{
	if (c->next) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		c->next = c->prev = NULL;
	}
}

/* C to the tail of list HEAD, which is in order of time */
static void append(struct lb_conn *head, struct lb_conn *c)
{
	unlink_idle(c);
	c->last = now_ms();
	c->prev = head->prev;
	c->next = head;
	head->prev->next = c;
	head->prev = c;
}

void lb_loop_touch(struct lb_conn *c)
{
	/* a listener, no -t (no idle list), or lingering: a fixed end */
	if (c->next && lb.idle_ms >= 0 && !c->lingering)
		append(&idle, c);
}

void lb_loop_linger(struct lb_conn *c)
{
	if (!c->lingering) {
		c->lingering = 1;
		append(&linger, c);
	}
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
		c->next = c->prev = c;	/* timed, alone; touch links it (with -t) */
		lb_loop_touch(c);
	}
}

void lb_loop_mod(struct lb_conn *c, unsigned ev)
{
	ctl(EPOLL_CTL_MOD, c, ev);
}

static void forget(struct lb_conn *c)
{
	if (c == paused)
		paused = NULL;
	unlink_idle(c);
}

void lb_loop_del(struct lb_conn *c)
{
	ctl(EPOLL_CTL_DEL, c, 0);
	forget(c);
}

void lb_loop_close(struct lb_conn *c)
{
	forget(c);
	close(c->fd);
	c->fd = -1;
}

void lb_loop_wake(int ms)
{
	uint64_t at = now_ms() + (uint64_t)(ms > 0 ? ms : 0);
	if (!wake_at || at < wake_at)
		wake_at = at;
}

/* ms until AT, at least 0; folded into the epoll timeout T (-1: none) */
static int until(uint64_t at, uint64_t now, int t)
{
	int d = at > now ? (int)(at - now) : 0;
	return t < 0 || d < t ? d : t;
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

/* Slots carved from 64 KiB mappings (pages are touched only as slots are
 * used), and a free list of the returned ones. */
static size_t slot;
static char *next_slot, *end_slot;
static void *freed;

void *lb_loop_new(size_t size)
{
	void *p = freed;

	if (!slot)
		slot = (size + 15) & ~(size_t)15;
	if (size > slot)
		return NULL;
	if (p) {
		freed = *(void **)p;
	} else {
		if (next_slot == end_slot) {
			p = lb_mmap(1 << 16);
			if (!p)
				return NULL;
			next_slot = p;
			end_slot = next_slot + ((1 << 16) / slot) * slot;
		}
		p = next_slot;
		next_slot += slot;
	}
	return memset(p, 0, slot);
}

void lb_loop_free(void *p)
{
	if (p) {
		*(void **)p = freed;
		freed = p;
	}
}

int lb_loop_once(void)
{
	struct epoll_event ev[64];
	int timeout = -1, n = 0;
	uint64_t now = now_ms();

	if (lb.idle_ms >= 0 && idle.next != &idle)
		timeout = until(idle.next->last + (uint64_t)lb.idle_ms, now, timeout);
	if (linger.next != &linger)
		timeout = until(linger.next->last + LB_LINGER_MS, now, timeout);
	if (paused && resume_at)
		timeout = until(resume_at, now, timeout);
	if (wake_at)
		timeout = until(wake_at, now, timeout);
	if (!stop_sig && !chld)	/* one still to report: do not wait */
		n = epoll_wait(ep, ev, 64, timeout);
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
	if (wake_at && now >= wake_at)
		wake_at = 0;
	/* Expire from the head: the callback closes (lb_loop_del) or touches. */
	while (lb.idle_ms >= 0 && idle.next != &idle && idle.next->last + (uint64_t)lb.idle_ms <= now) {
		struct lb_conn *c = idle.next;
		c->fn(c, 0);
		if (idle.next == c)	/* the callback kept it: do not loop on it */
			lb_loop_touch(c);
	}
	while (linger.next != &linger && linger.next->last + LB_LINGER_MS <= now) {
		struct lb_conn *c = linger.next;
		c->fn(c, 0);
		if (linger.next == c)	/* kept: it never comes back */
			unlink_idle(c);
	}
	int sig = stop_sig;
	if (sig)
		stop_sig = 0;
	else if (chld)
		chld = 0, sig = SIGCHLD;
	return sig;
}

void lb_loop_accept(struct lb_conn *c, unsigned ev)
{
	struct lb_listener *l = (struct lb_listener *)c;

	(void)ev;
	for (int i = 0; i < 64 && c->fd >= 0; i++) {
		int ms = l->room ? l->room() : 0;

		if (!ms) {
			struct lb_addr peer;
			peer.len = sizeof(peer.u);
			int fd = lb_accept4(c->fd, &peer.u.sa, &peer.len, l->flags);
			if (fd >= 0)
				ms = l->take(fd, &peer);
			else if (errno == EAGAIN)
				return;
			else if (errno != ECONNABORTED && errno != EINTR && errno != EPERM && errno != EPROTO)
				ms = LB_PAUSE_MS;	/* wait, never spin */
		}
		if (ms) {
			lb_loop_pause(c, ms);
			return;
		}
	}
}

uint64_t lb_loop_served(struct lb_conn *l)
{
	static uint64_t served;

	if (++served == lb.count)
		lb_loop_close(l);
	return served;
}
