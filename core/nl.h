/* nl.h - one netlink request and its answers: rtnetlink (lo's addresses,
 * routes, rules and qdiscs; --up) and sock_diag (who listens, who is in
 * TIME_WAIT, who owns a peer socket). The structures are spelled out here,
 * once: musl ships no <linux/...> headers. */
#ifndef LB_NL_H
#define LB_NL_H

#include "lb.h"

struct lb_nlh {
	uint32_t len;
	uint16_t type, flags;
	uint32_t seq, pid;
};

/* inet_diag: a socket's identity, a dump request, one answer */
struct lb_diag_id {
	uint16_t sport, dport;
	uint32_t src[4], dst[4];
	uint32_t ifindex, cookie[2];
};
struct lb_diag_req {
	struct lb_nlh h;
	uint8_t family, protocol, ext, pad;
	uint32_t states;
	struct lb_diag_id id;
};
struct lb_diag_msg {
	uint8_t family, state, timer, retrans;
	struct lb_diag_id id;
	uint32_t expires, rqueue, wqueue, uid, inode;
};

enum {
	LB_NL_ROUTE = 0,	/* NETLINK_ROUTE */
	LB_NL_DIAG = 4,		/* NETLINK_SOCK_DIAG */
	LB_NLM_REQ = 1, LB_NLM_ACK = 4, LB_NLM_DUMP = 0x300,
	LB_DIAG_BY_FAMILY = 20,	/* SOCK_DIAG_BY_FAMILY */
	LB_TCP_LISTEN = 10, LB_TCP_TIME_WAIT = 6,
};

/* The socket of protocol PROTO (0 or 4), opened once and kept: a server
 * can open it before it runs short of descriptors. -1 if there is none. */
int lb_nl_fd(int proto);

/* Send the request Q (its h.len, type and flags set; the sequence number
 * is ours) and call FN(ARG, message) for each answer until the last one
 * (DONE, an ack, or a single answer). Returns 0, or the errno the kernel
 * answered (an ack's), or the socket's own. Every answer is read: the
 * socket stays usable for the next request. FN is called as it is: a
 * request that wants only an ack passes one anyway (no test for NULL). */
int lb_nl(int proto, void *q, void (*fn)(void *arg, struct lb_nlh *m), void *arg);

/* The payload of attribute TYPE of message M, whose fixed part after the
 * header is HDR bytes long; NULL when it has none. */
void *lb_nl_attr(struct lb_nlh *m, unsigned hdr, unsigned type);

#endif
