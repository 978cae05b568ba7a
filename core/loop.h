/* loop.h - the shared epoll loop of the concurrent servers. */
#ifndef LB_LOOP_H
#define LB_LOOP_H

#include "lb.h"

/* Embed this first in a connection's own state and cast back in fn. */
struct lb_conn {
	int fd;
	unsigned char lingering;	/* set by lb_loop_linger */
	/* ev: the epoll events; 0 when the -t idle timeout ran out */
	void (*fn)(struct lb_conn *c, unsigned ev);
	struct lb_conn *prev, *next;	/* idle order, oldest first */
	uint64_t last;			/* ms of last activity */
};

/* Sets up epoll, and the signalfd in it: lb_loop_once returns the number
 * of a SIGTERM, SIGINT or SIGCHLD (a stop signal first; a SIGCHLD that
 * came with it is returned by the next call); SIGHUP kills, after the exit
 * hooks. */
void lb_loop_init(void);
/* timed: a connection (subject to -t); 0: a listener */
void lb_loop_add(struct lb_conn *c, unsigned ev, int timed);
void lb_loop_mod(struct lb_conn *c, unsigned ev);
void lb_loop_del(struct lb_conn *c);	/* does not close c->fd; forgets a paused listener */
/* lb_loop_del and close(c->fd) in one syscall: only for a descriptor that
 * is not shared (no dup; no child holds it, not even one between fork and
 * exec, which holds every descriptor), which epoll then drops itself. */
void lb_loop_close(struct lb_conn *c);
void lb_loop_touch(struct lb_conn *c);	/* activity: restart its -t clock */
/* C's job is done (its reply went out): fn(C, 0) in LB_LINGER_MS, -t or
 * not, activity or not, unless it ends before. Once is enough. */
void lb_loop_linger(struct lb_conn *c);
/* Stop polling listener L: until lb_loop_resume, or for MS ms (MS > 0),
 * e.g. out of descriptors, or -n MAX connections open. */
void lb_loop_pause(struct lb_conn *l, int ms);
void lb_loop_resume(void);
/* Make the next lb_loop_once return within MS ms (a deadline, e.g. the
 * grace period after SIGTERM). */
void lb_loop_wake(int ms);
/* Zeroed memory for one connection's state, and back. No malloc: its
 * ~7 KB would double a server's share of the binary. One size per process
 * (the first asked for): NULL for a larger one, or when memory is out. */
void *lb_loop_new(size_t size);
void lb_loop_free(void *p);
/* Wait once and dispatch; returns a signal that arrived, or 0. */
int lb_loop_once(void);

/* A listening TCP or UNIX socket in the loop (nonblocking), accepted from
 * by lb_loop_accept: its fn, or called by its fn for events (ev != 0). */
struct lb_listener {
	struct lb_conn c;	/* first; c.fd is -1 once lb_loop_served closed it */
	int flags;		/* accept4's: SOCK_CLOEXEC, and SOCK_NONBLOCK or 0 */
	/* Both return 0 to go on accepting, else N to stop and pause the
	 * listener: N ms, or -1 until lb_loop_resume (lb_loop_pause).
	 * room: NULL, or asked before each accept (the applet's limits). */
	int (*room)(void);
	/* take: each connection accepted; FD and PEER are its now (to keep
	 * or close) */
	int (*take)(int fd, struct lb_addr *peer);
};
/* Up to 64 connections a wake (then other descriptors get their turn),
 * while L is open, each handed to take. Out of descriptors or memory
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM) it pauses L for LB_PAUSE_MS: new
 * clients wait in the backlog, and the server never spins; a connection
 * that went before it was accepted (ECONNABORTED, EPROTO), a filter's
 * EPERM or EINTR: the next. */
void lb_loop_accept(struct lb_conn *l, unsigned ev);
/* One more served, a connection or a datagram: the -c COUNTth closes the
 * listener L (lb_loop_close: no child may share it). Returns how many,
 * this one included. */
uint64_t lb_loop_served(struct lb_conn *l);

#endif
