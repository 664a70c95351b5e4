// CURing: batched TUN reads and writes through io_uring, for the Forwarding library's `tun.io = "uring"`.
// The implementation (shim.c) is the only place that includes liburing; see there why.
#ifndef CURING_H
#define CURING_H

#include <stdint.h>

struct io_uring;

/// A ring of `entries` submission slots, or NULL with errno set (SINGLE_ISSUER | DEFER_TASKRUN when the
/// kernel has them). The thread that creates the ring must be the one that submits.
struct io_uring *CURing_create(unsigned entries);
void CURing_destroy(struct io_uring *ring);

/// Queues a read that never waits (RWF_NOWAIT: -EAGAIN at once when there is nothing); `drain`: start only
/// after every earlier request completed. 0, or -1 when the submission queue is full.
int CURing_prepRead(struct io_uring *ring, int fd, void *buf, unsigned len, uint64_t userData, int drain);

/// Queues a vectored write of `count` `struct iovec`s (valid until it completes). 0, or -1 when full.
int CURing_prepWritev(struct io_uring *ring, int fd, const void *iov, unsigned count, uint64_t userData);

/// Submits what is queued and waits for `waitNr` completions: one io_uring_enter. Submitted count or -errno.
int CURing_submitAndWait(struct io_uring *ring, unsigned waitNr);

/// Copies up to `max` ready completions (user data and result) and marks them seen. Returns how many.
unsigned CURing_reap(struct io_uring *ring, uint64_t *userData, int32_t *results, unsigned max);

#endif
