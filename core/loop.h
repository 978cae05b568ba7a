/* loop.h - the shared epoll loop of the concurrent servers. */
#ifndef LB_LOOP_H
#define LB_LOOP_H

#include "lb.h"

/* Embed this first in a connection's own state and cast back in fn. */
struct lb_conn {
	int fd;
	/* ev: the epoll events; 0 when the -t idle timeout ran out */
	void (*fn)(struct lb_conn *c, unsigned ev);
	struct lb_conn *prev, *next;	/* idle order, oldest first */
	uint64_t last;			/* ms of last activity */
};

extern int lb_nconn;			/* timed connections in the loop */

/* Sets up epoll; SIGTERM, SIGINT and SIGCHLD are then delivered only
 * while the loop waits, and lb_loop_once returns their number. */
void lb_loop_init(void);
/* timed: a connection (counted in lb_nconn, subject to -t); 0: a listener */
void lb_loop_add(struct lb_conn *c, unsigned ev, int timed);
void lb_loop_mod(struct lb_conn *c, unsigned ev);
void lb_loop_del(struct lb_conn *c);	/* does not close c->fd */
void lb_loop_touch(struct lb_conn *c);	/* activity: restart its -t clock */
/* Stop polling listener L: until lb_loop_resume, or for MS ms (MS > 0),
 * e.g. out of descriptors, or -n MAX connections open. */
void lb_loop_pause(struct lb_conn *l, int ms);
void lb_loop_resume(void);
/* Wait once and dispatch; returns a signal that arrived, or 0. */
int lb_loop_once(void);

#endif
