/*
 * One complete answer as FastCGI records, written with one writev.
 *
 * libfcgi copies what FCGX_PutStr is given into an 8 KiB buffer and writes
 * a record each time it fills, then the end-of-stream and FCGI_END_REQUEST
 * records at FCGX_Finish_r: a 28 KB answer (100 log rows) left as four or
 * five write()s, and nginx (fastcgi_buffering off) read and forwarded each
 * on its own. Here the head and body go out as records of up to
 * WHARFD_FCGI_RECORD_MAX bytes, followed by the end-of-stream and
 * FCGI_END_REQUEST records, from the caller's buffers (no copy), in one
 * writev when they fit in WHARFD_FCGI_IOV iovecs (every answer under about
 * 1 MB).
 */
#ifndef WHARFD_FCGI_RECORDS_H
#define WHARFD_FCGI_RECORDS_H

#include <stddef.h>

/* Content bytes of one record: FastCGI's 16-bit length, rounded down to a
 * multiple of 8 so that only the last record carries padding. */
#define WHARFD_FCGI_RECORD_MAX 65528

/* iovecs gathered before each writev. */
#define WHARFD_FCGI_IOV 64

/*
 * Writes the FCGI_STDOUT stream head + body (either may be empty), its
 * end-of-stream record and FCGI_END_REQUEST (request complete, app status
 * 0) for request_id on fd, a blocking socket. Returns 0, or -1 with errno
 * set when a write failed (the peer is gone).
 */
int wharfd_fcgi_send(int fd, int request_id, const char *head, size_t hlen,
                     const char *body, size_t blen);

#endif
