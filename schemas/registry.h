/*
 * registry.h — client of a Confluent-compatible Schema Registry (REST API
 * v1: /subjects/<subject>/versions, /schemas/ids/<id>, /config), by libcurl.
 *
 * Contract: tw_registry_register() registers one Avro schema under a
 * subject (TopicNameStrategy: "<topic>-key" / "<topic>-value") and returns
 * the registry's id for it; registering the same schema again returns the
 * same id, so the call is safe to repeat after a restart. Answers are cached
 * per (subject, schema text): only the first use of a schema costs a
 * request. tw_registry_schema() fetches a schema by id (cached as well).
 *
 * Every call makes at most one attempt per configured URL (several URLs,
 * comma-separated, are tried in order; the one that answered is tried first
 * next time) and never retries by itself: the caller decides how long to
 * wait, so that it can keep serving its own work in between. The status
 * says what kind of failure it was:
 *
 *   TW_REG_UNAVAILABLE  no answer, a timeout, HTTP 5xx, 408 or 429: retry later
 *   TW_REG_INCOMPATIBLE HTTP 409: the subject's compatibility rule refuses it
 *   TW_REG_INVALID      HTTP 422 with error code 42201 (or none): the schema is invalid
 *   TW_REG_AUTH         HTTP 401 / 403: credentials refused
 *   TW_REG_NOT_FOUND    HTTP 404 (tw_registry_schema: no such id)
 *   TW_REG_ERROR        anything else (a body that is not the documented JSON...)
 *
 * err names the registry by its URL without any user:password part, the
 * HTTP status and the registry's own message; it never contains the
 * basic-auth secret.
 *
 * Blocking: a call waits at most about timeout_ms per URL. Not thread-safe:
 * one tw_registry per thread.
 *
 * Ownership: tw_registry_new copies every string of opts. Schema text
 * returned by tw_registry_schema belongs to the registry handle and lives
 * until tw_registry_free.
 */
#ifndef TW_REGISTRY_H
#define TW_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct tw_registry tw_registry;

typedef enum {
    TW_REG_OK = 0,
    TW_REG_UNAVAILABLE,
    TW_REG_INCOMPATIBLE,
    TW_REG_INVALID,
    TW_REG_AUTH,
    TW_REG_NOT_FOUND,
    TW_REG_ERROR,
} tw_reg_status;

typedef struct {
    const char *urls;         /* "http(s)://host:port[/path][,...]" */
    const char *user_info;    /* "user:password" for HTTP basic auth; NULL/"" none */
    const char *ca_file;      /* PEM CA bundle to verify the server; NULL/"" system's */
    const char *cert_file;    /* PEM client certificate; NULL/"" none */
    const char *key_file;     /* PEM key of cert_file */
    const char *key_password; /* of key_file; NULL/"" none */
    int timeout_ms;           /* per request and URL, connect included (> 0) */
} tw_registry_opts;

/* NULL with err when a URL does not parse or is not http(s), or libcurl
 * cannot start. */
tw_registry *tw_registry_new(const tw_registry_opts *opts, char *err, size_t errsize);
void tw_registry_free(tw_registry *r);

/* Forgets every cached answer: the next registration of each schema asks
 * the registry again (after a restart of the caller's pipeline, so that a
 * registry that lost its state cannot leave stale ids in use). */
void tw_registry_forget(tw_registry *r);

/* progress (may be NULL) is called about once a second and more often while
 * a request runs; a non-zero return aborts the request, which then fails
 * with TW_REG_UNAVAILABLE ("aborted"). How a caller stops at once, or keeps
 * its own liveness signal fresh, during a slow request. */
void tw_registry_set_progress(tw_registry *r, int (*progress)(void *arg), void *arg);

/* The HTTP status of the last answer (0: none, e.g. unreachable). */
long tw_registry_last_http_status(const tw_registry *r);

/* The URLs as given, without user:password parts, for messages. */
const char *tw_registry_shown(const tw_registry *r);

/* Registers schema (Avro JSON, len bytes) under subject; *id on TW_REG_OK. */
tw_reg_status tw_registry_register(tw_registry *r, const char *subject, const char *schema,
                                   size_t len, int32_t *id, char *err, size_t errsize);

/* The schema with this id (*schema NUL-terminated, owned by r). */
tw_reg_status tw_registry_schema(tw_registry *r, int32_t id, const char **schema, char *err,
                                 size_t errsize);

/* One request that proves the registry answers and accepts the
 * credentials (GET /config). */
tw_reg_status tw_registry_ping(tw_registry *r, char *err, size_t errsize);

/* Requests made so far (cache hits not counted), by status: counts[s] for
 * every s from TW_REG_OK to TW_REG_ERROR. */
void tw_registry_counts(const tw_registry *r, uint64_t counts[TW_REG_ERROR + 1]);

/* A status as a word for logs and metrics ("unavailable", "incompatible"...). */
const char *tw_reg_status_name(tw_reg_status s);

#endif
