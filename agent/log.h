/*
 * log.h — the one logging path of Tidewater.
 *
 * Every log line is one event: a timestamp, a level, the component that
 * speaks and a message, written to stderr either as logfmt
 *   ts=2026-11-21T18:42:00.123Z level=info component=check msg="..."
 * or as one JSON object per line. Library code never prints otherwise.
 *
 * Lines below the configured level are discarded before any formatting.
 * Not thread-safe across tw_log_configure(); tw_log() itself may be called
 * from any thread (each line is a single write(2)).
 */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <stdarg.h>

typedef enum {
    TW_LOG_DEBUG = 0,
    TW_LOG_INFO = 1,
    TW_LOG_WARN = 2,
    TW_LOG_ERROR = 3,
} tw_log_level;

typedef enum {
    TW_LOG_LOGFMT = 0,
    TW_LOG_JSON = 1,
} tw_log_format;

/* Set the minimum level and the line format. Defaults: info, logfmt. */
void tw_log_configure(tw_log_level min_level, tw_log_format format);

/* Parse "debug"/"info"/"warn"/"error"; returns -1 for anything else. */
int tw_log_level_parse(const char *s);
/* Parse "logfmt"/"json"; returns -1 for anything else. */
int tw_log_format_parse(const char *s);

/* Is a line at this level going to be written? Lets callers skip costly
 * argument preparation for debug output. */
int tw_log_enabled(tw_log_level level);

/* Write one event. component is a short fixed word ("check", "config",
 * "kafka"); fmt/... form the human message. */
void tw_log(tw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tw_logv(tw_log_level level, const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define tw_debug(comp, ...) tw_log(TW_LOG_DEBUG, comp, __VA_ARGS__)
#define tw_info(comp, ...)  tw_log(TW_LOG_INFO, comp, __VA_ARGS__)
#define tw_warn(comp, ...)  tw_log(TW_LOG_WARN, comp, __VA_ARGS__)
#define tw_error(comp, ...) tw_log(TW_LOG_ERROR, comp, __VA_ARGS__)

#endif
