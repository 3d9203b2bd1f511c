/*
 * consume.h — `tidewater consume`: reads a Tidewater topic and prints each
 * message as one JSON object per line:
 *
 *   {"topic":…,"partition":0,"offset":12,"timestamp":…,
 *    "headers":{"tidewater.lsn":"0/16B3748",…},"key":{…}|null,"value":{…}|null}
 *
 * Keys and values are decoded from Avro single-object encoding with the
 * schema found under their fingerprint in <topic.prefix>.schemas (re-read
 * when a message names a schema published after start), or from Confluent's
 * wire format with the schema the registry (schema.registry.url) has under
 * the message's id. A message that
 * cannot be decoded ends the command with an error naming topic, partition
 * and offset: nothing is skipped silently.
 */
#ifndef TW_CONSUME_H
#define TW_CONSUME_H

#include <signal.h>
#include <stdio.h>

struct tw_config;

typedef struct {
    const char *topic;
    int from_beginning; /* else only messages produced from now on */
    long max;           /* stop after this many messages; 0 = no limit */
    int until_end;      /* stop at the end of every partition */
} tw_consume_opts;

/* Returns 0 when done (max reached, end reached, or stop), 1 on error. */
int tw_consume_run(const struct tw_config *cfg, const tw_consume_opts *o,
                   volatile sig_atomic_t *stop, FILE *out);

#endif
