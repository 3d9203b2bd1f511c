/*
 * pipeline.h — `tidewater run`: stream → decode → encode → produce, at
 * least once.
 *
 * One thread. It reads one replication message at a time, decodes it,
 * encodes each row change into reused buffers and hands it to the Kafka
 * producer; delivery reports, served on the same thread, feed the
 * checkpoint tracker, whose flush LSN is the only position ever reported to
 * the server. When the producer's queue or the in-flight transaction ring
 * is full, the loop stops reading the socket (TCP pushes back on the
 * walsender) and keeps status updates flowing so the server does not time
 * the connection out.
 *
 * A failed delivery, a fatal producer error or a lost replication
 * connection tears down producer and stream and starts both again from the
 * slot (the last acknowledged commit), with a growing delay; what was
 * produced but not acknowledged is sent again (duplicates carry the same
 * tidewater.lsn/xid/seq headers). Errors that a restart cannot cure (bad
 * configuration, an invalidated slot, a row the schema cannot carry) end
 * the run with a message.
 *
 * stop: set by a signal handler; the loop then stops reading, waits for the
 * producer to deliver what it holds, reports the final flush LSN and
 * returns 0.
 */
#ifndef TW_PIPELINE_H
#define TW_PIPELINE_H

#include <signal.h>

struct tw_config;

/* Returns 0 after a clean stop, 1 after a fatal error (logged). */
int tw_pipeline_run(const struct tw_config *cfg, volatile sig_atomic_t *stop);

#endif
