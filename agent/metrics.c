#include "agent/metrics.h"

#include "schemas/registry.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

tw_metrics tw_m = {.slot_safe_wal_size = -1, .slot_wal_status = -1};
const char *const tw_wal_status_names[4] = {"reserved", "extended", "unreserved", "lost"};

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pause_lock = PTHREAD_MUTEX_INITIALIZER;
static char pause_reason[512];
static char registry_reason[512];
_Static_assert(TW_REG_ERROR + 1 == TW_REGISTRY_RESULTS, "one counter per tw_reg_status");

void tw_metrics_set_registry_reason(const char *why)
{
    pthread_mutex_lock(&pause_lock);
    snprintf(registry_reason, sizeof registry_reason, "%s", why ? why : "");
    pthread_mutex_unlock(&pause_lock);
}

void tw_metrics_set_pause_reason(const char *why)
{
    pthread_mutex_lock(&pause_lock);
    snprintf(pause_reason, sizeof pause_reason, "%s", why ? why : "");
    pthread_mutex_unlock(&pause_lock);
}
static tw_table_metrics *tables;

tw_table_metrics *tw_metrics_table(const char *schema, const char *table)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", schema, table);
    pthread_mutex_lock(&tables_lock);
    tw_table_metrics *t = tables;
    while (t && strcmp(t->table, name) != 0)
        t = t->next;
    if (!t && (t = calloc(1, sizeof *t)) != NULL) {
        snprintf(t->table, sizeof t->table, "%s", name);
        t->next = tables;
        tables = t;
    }
    pthread_mutex_unlock(&tables_lock);
    return t;
}

int64_t tw_metrics_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tw_metrics_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    char *buf;
    size_t size, len;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
                      o->len < o->size ? o->size - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: escape backslash, quote and newline. */
static void put_label(out_t *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            put(o, "\\%c", *v);
        else if (*v == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *v);
    }
}

size_t tw_metrics_render(char *buf, size_t size)
{
    out_t o = {buf, size, 0};
    static const char *const ops = "cudtr";
    static const char *const causes[TW_RESTART__COUNT] = {"kafka", "stream", "catalog", "schema"};
    if (size)
        buf[0] = '\0';

    family(&o, "tidewater_build_info", "gauge", "Tidewater version.");
    put(&o, "tidewater_build_info{version=\"%s\"} 1\n", TW_VERSION);

    family(&o, "tidewater_changes_total", "counter", "Row changes published, by table and op.");
    pthread_mutex_lock(&tables_lock);
    for (tw_table_metrics *t = tables; t; t = t->next)
        for (int i = 0; i < TW_OP__COUNT; i++) {
            put(&o, "tidewater_changes_total{table=\"");
            put_label(&o, t->table);
            put(&o, "\",op=\"%c\"} %llu\n", ops[i],
                (unsigned long long)atomic_load(&t->changes[i]));
        }
    family(&o, "tidewater_oversize_skipped_total", "counter",
           "Changes larger than their topic takes, skipped (on_oversize=skip), by table.");
    for (tw_table_metrics *t = tables; t; t = t->next) {
        put(&o, "tidewater_oversize_skipped_total{table=\"");
        put_label(&o, t->table);
        put(&o, "\"} %llu\n", (unsigned long long)atomic_load(&t->oversize_skipped));
    }
    family(&o, "tidewater_snapshot_running", "gauge", "1 while a snapshot is being read.");
    put(&o, "tidewater_snapshot_running %d\n", atomic_load(&tw_m.snapshot_running));
    family(&o, "tidewater_snapshot_tables", "gauge", "Tables in the current (or last) snapshot.");
    put(&o, "tidewater_snapshot_tables %d\n", atomic_load(&tw_m.snapshot_tables));
    family(&o, "tidewater_snapshot_completed_timestamp_seconds", "gauge",
           "When the last snapshot was complete (0: none by this process).");
    put(&o, "tidewater_snapshot_completed_timestamp_seconds %.3f\n",
        (double)atomic_load(&tw_m.snapshot_completed_ms) / 1000.0);
    family(&o, "tidewater_snapshot_rows", "gauge",
           "Rows published by the current (or last) snapshot, by table.");
    for (tw_table_metrics *t = tables; t; t = t->next)
        if (atomic_load(&t->snapshot_estimated) != 0 || atomic_load(&t->snapshot_rows) != 0) {
            put(&o, "tidewater_snapshot_rows{table=\"");
            put_label(&o, t->table);
            put(&o, "\"} %llu\n", (unsigned long long)atomic_load(&t->snapshot_rows));
        }
    family(&o, "tidewater_snapshot_rows_estimated", "gauge",
           "The planner's row estimate of each table in the snapshot (-1: unknown).");
    for (tw_table_metrics *t = tables; t; t = t->next)
        if (atomic_load(&t->snapshot_estimated) != 0 || atomic_load(&t->snapshot_rows) != 0) {
            put(&o, "tidewater_snapshot_rows_estimated{table=\"");
            put_label(&o, t->table);
            put(&o, "\"} %lld\n", (long long)atomic_load(&t->snapshot_estimated));
        }
    family(&o, "tidewater_snapshot_table_done", "gauge", "1 when a table's snapshot is complete.");
    for (tw_table_metrics *t = tables; t; t = t->next)
        if (atomic_load(&t->snapshot_estimated) != 0 || atomic_load(&t->snapshot_rows) != 0) {
            put(&o, "tidewater_snapshot_table_done{table=\"");
            put_label(&o, t->table);
            put(&o, "\"} %d\n", atomic_load(&t->snapshot_done));
        }
    family(&o, "tidewater_schema_changes_total", "counter",
           "Schema-change events, by table and Avro compatibility of old vs new schema.");
    static const char *const classes[4] = {"NONE", "BACKWARD", "FORWARD", "FULL"};
    for (tw_table_metrics *t = tables; t; t = t->next)
        for (int i = 0; i < 4; i++) {
            unsigned long long n = atomic_load(&t->schema_changes[i]);
            if (!n)
                continue;
            put(&o, "tidewater_schema_changes_total{table=\"");
            put_label(&o, t->table);
            put(&o, "\",compatibility=\"%s\"} %llu\n", classes[i], n);
        }
    family(&o, "tidewater_schema_paused", "gauge",
           "1 while rows of a table's new shape are held until `tidewater schemas accept`.");
    for (tw_table_metrics *t = tables; t; t = t->next) {
        put(&o, "tidewater_schema_paused{table=\"");
        put_label(&o, t->table);
        put(&o, "\"} %d\n", atomic_load(&t->schema_paused));
    }
    pthread_mutex_unlock(&tables_lock);
    family(&o, "tidewater_schema_check_timestamp_seconds", "gauge",
           "Unix time of the last successful catalog check of the published tables.");
    put(&o, "tidewater_schema_check_timestamp_seconds %.3f\n",
        (double)atomic_load(&tw_m.schema_check_ms) / 1000.0);
    family(&o, "tidewater_schema_check_duration_seconds", "gauge",
           "How long the last catalog check took (the replication loop waits for it).");
    put(&o, "tidewater_schema_check_duration_seconds %.3f\n",
        (double)atomic_load(&tw_m.schema_check_took_ms) / 1000.0);
    family(&o, "tidewater_schema_webhook_events_total", "counter",
           "Schema-change events sent to schema.webhook.url, by result.");
    put(&o, "tidewater_schema_webhook_events_total{result=\"delivered\"} %llu\n",
        (unsigned long long)atomic_load(&tw_m.webhook_delivered));
    put(&o, "tidewater_schema_webhook_events_total{result=\"failed\"} %llu\n",
        (unsigned long long)atomic_load(&tw_m.webhook_failed));
    put(&o, "tidewater_schema_webhook_events_total{result=\"dropped\"} %llu\n",
        (unsigned long long)atomic_load(&tw_m.webhook_dropped));
    family(&o, "tidewater_schema_registry_requests_total", "counter",
           "Requests to schema.registry.url (registrations that missed the cache), by result.");
    for (int i = 0; i < TW_REGISTRY_RESULTS; i++)
        put(&o, "tidewater_schema_registry_requests_total{result=\"%s\"} %llu\n",
            tw_reg_status_name((tw_reg_status)i),
            (unsigned long long)atomic_load(&tw_m.registry_requests[i]));
    family(&o, "tidewater_schema_registry_waiting", "gauge",
           "1 while publishing waits for the schema registry (unreachable, or a schema refused "
           "as incompatible).");
    put(&o, "tidewater_schema_registry_waiting %d\n", atomic_load(&tw_m.registry_waiting));

    family(&o, "tidewater_messages_total", "counter",
           "Kafka messages produced (changes and tombstones).");
    put(&o, "tidewater_messages_total %llu\n", (unsigned long long)atomic_load(&tw_m.messages));
    family(&o, "tidewater_bytes_total", "counter", "Key and value bytes produced to Kafka.");
    put(&o, "tidewater_bytes_total %llu\n", (unsigned long long)atomic_load(&tw_m.bytes));
    family(&o, "tidewater_oversize_refused_total", "counter",
           "Changes the broker refused for their size after they were sent, skipped "
           "(on_oversize=skip).");
    put(&o, "tidewater_oversize_refused_total %llu\n",
        (unsigned long long)atomic_load(&tw_m.oversize_refused));
    family(&o, "tidewater_delivery_errors_total", "counter",
           "Kafka delivery reports with an error.");
    put(&o, "tidewater_delivery_errors_total %llu\n",
        (unsigned long long)atomic_load(&tw_m.delivery_errors));
    family(&o, "tidewater_restarts_total", "counter",
           "Restarts of producer and stream from the last acknowledged commit, by cause.");
    for (int i = 0; i < TW_RESTART__COUNT; i++)
        put(&o, "tidewater_restarts_total{cause=\"%s\"} %llu\n", causes[i],
            (unsigned long long)atomic_load(&tw_m.restarts[i]));

    uint64_t received = atomic_load(&tw_m.received_lsn), flushed = atomic_load(&tw_m.flushed_lsn);
    uint64_t wal_end = atomic_load(&tw_m.server_wal_end);
    family(&o, "tidewater_received_lsn", "gauge", "Highest WAL position received (bytes).");
    put(&o, "tidewater_received_lsn %llu\n", (unsigned long long)received);
    family(&o, "tidewater_flushed_lsn", "gauge",
           "WAL position confirmed to the server: everything before it is in Kafka (bytes).");
    put(&o, "tidewater_flushed_lsn %llu\n", (unsigned long long)flushed);
    family(&o, "tidewater_replication_lag_bytes", "gauge",
           "Server's WAL end minus the flushed position.");
    put(&o, "tidewater_replication_lag_bytes %llu\n",
        (unsigned long long)(wal_end > flushed ? wal_end - flushed : 0));
    int64_t commit_ms = atomic_load(&tw_m.last_flushed_commit_ms);
    double lag_s = 0;
    if (!atomic_load(&tw_m.quiet) && commit_ms > 0)
        lag_s = (double)(tw_metrics_wall_ms() - commit_ms) / 1000.0;
    family(&o, "tidewater_replication_lag_seconds", "gauge",
           "Age of the commit time of the newest fully delivered transaction (0 when idle).");
    put(&o, "tidewater_replication_lag_seconds %.3f\n", lag_s < 0 ? 0 : lag_s);
    family(&o, "tidewater_producer_queue_messages", "gauge",
           "Messages in the producer queue, not yet acknowledged.");
    put(&o, "tidewater_producer_queue_messages %d\n", atomic_load(&tw_m.queue_messages));
    family(&o, "tidewater_postgres_connected", "gauge", "1 when streaming from PostgreSQL.");
    put(&o, "tidewater_postgres_connected %d\n", atomic_load(&tw_m.pg_connected));
    family(&o, "tidewater_kafka_connected", "gauge", "1 when a Kafka broker is reachable.");
    put(&o, "tidewater_kafka_connected %d\n", atomic_load(&tw_m.kafka_connected));
    char why[8];
    family(&o, "tidewater_ready", "gauge", "1 when /readyz answers 200.");
    put(&o, "tidewater_ready %d\n", tw_metrics_ready(why, sizeof why));
    family(&o, "tidewater_slot_safe_wal_size_bytes", "gauge",
           "WAL the server can still write before the slot is at risk (-1: unlimited or unknown).");
    put(&o, "tidewater_slot_safe_wal_size_bytes %lld\n",
        (long long)atomic_load(&tw_m.slot_safe_wal_size));
    family(&o, "tidewater_slot_wal_status", "gauge", "1 for the slot's current wal_status.");
    int ws = atomic_load(&tw_m.slot_wal_status);
    for (int i = 0; i < 4; i++)
        put(&o, "tidewater_slot_wal_status{status=\"%s\"} %d\n", tw_wal_status_names[i], ws == i);
    return o.len;
}

int tw_metrics_ready(char *why, size_t whysize)
{
    /* A snapshot is flowing data too: it reads and produces. */
    if ((!atomic_load(&tw_m.pg_connected) || !atomic_load(&tw_m.streaming)) &&
        !atomic_load(&tw_m.snapshot_running)) {
        snprintf(why, whysize, "not streaming from PostgreSQL");
        return 0;
    }
    if (!atomic_load(&tw_m.kafka_connected)) {
        snprintf(why, whysize, "no Kafka broker reachable");
        return 0;
    }
    if (atomic_load(&tw_m.schema_paused) > 0) {
        pthread_mutex_lock(&pause_lock);
        snprintf(why, whysize, "paused: %s", pause_reason);
        pthread_mutex_unlock(&pause_lock);
        return 0;
    }
    if (atomic_load(&tw_m.registry_waiting)) {
        pthread_mutex_lock(&pause_lock);
        snprintf(why, whysize, "waiting for the schema registry: %s", registry_reason);
        pthread_mutex_unlock(&pause_lock);
        return 0;
    }
    if (atomic_load(&tw_m.consecutive_failures) >= 3) {
        snprintf(why, whysize, "restarting repeatedly (%d failures in a row)",
                 atomic_load(&tw_m.consecutive_failures));
        return 0;
    }
    snprintf(why, whysize, "ready");
    return 1;
}
