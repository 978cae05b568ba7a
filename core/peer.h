/* peer.h - who is at the other end of a local connection. */
#ifndef LB_PEER_H
#define LB_PEER_H

#include "lb.h"

/* Opens what lb_peer_uid needs ahead of time (it works without, but a
 * server short of descriptors later could not open it then). */
void lb_peer_init(void);
/* The uid owning the peer's socket of connection FD: SO_PEERCRED for
 * UNIX; for TCP the kernel's socket table (NETLINK_SOCK_DIAG, else
 * /proc/net/tcp{,6}), looked up by the exact 4-tuple. Returns 0 and sets
 * *UID, or -1 when the peer cannot be named (gone, closed, no way to ask):
 * callers that admit by uid must then refuse. */
int lb_peer_uid(int fd, unsigned *uid);

#endif
