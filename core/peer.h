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

/* How many of the bytes sent on connection FD the peer's application has
 * not read yet: 0 when it read them all (or its socket closed without a
 * reset: one that closes on unread bytes resets), -1 when the kernel
 * cannot say. UNIX: our send queue keeps them until the peer reads
 * (SIOCOUTQ); TCP: those not yet acknowledged, then the peer socket's
 * receive queue in the kernel's socket table (the peer is on this host). */
int lb_peer_unread(int fd);

#endif
