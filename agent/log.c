#include "agent/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tw_log_level log_min_level = TW_LOG_INFO;
static tw_log_format log_format = TW_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tw_log_configure(tw_log_level min_level, tw_log_format format)
{
    log_min_level = min_level;
    log_format = format;
}

int tw_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int tw_log_format_parse(const char *s)
{
    if (strcmp(s, "logfmt") == 0)
        return TW_LOG_LOGFMT;
    if (strcmp(s, "json") == 0)
        return TW_LOG_JSON;
    return -1;
}

int tw_log_enabled(tw_log_level level)
{
    return level >= log_min_level;
}

/* Append src to buf[*len..cap) escaped for a double-quoted logfmt or JSON
 * string. Truncates silently at cap (a log line is never worth failing for). */
static void append_quoted(char *buf, size_t cap, size_t *len, const char *src, int json)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)src; *p && *len + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = (char)c;
        } else if (c == '\n') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = 'n';
        } else if (c == '\t') {
            buf[(*len)++] = '\\';
            buf[(*len)++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            if (json) {
                memcpy(buf + *len, "\\u00", 4);
                *len += 4;
            } else {
                memcpy(buf + *len, "\\x", 2);
                *len += 2;
            }
            buf[(*len)++] = hex[c >> 4];
            buf[(*len)++] = hex[c & 15];
        } else {
            buf[(*len)++] = (char)c;
        }
    }
}

static void append_raw(char *buf, size_t cap, size_t *len, const char *src)
{
    size_t n = strlen(src);
    if (*len + n >= cap)
        n = cap - *len - 1;
    memcpy(buf + *len, src, n);
    *len += n;
}

void tw_logv(tw_log_level level, const char *component, const char *fmt, va_list ap)
{
    if (level < log_min_level)
        return;

    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wl = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wl, sizeof when - wl, ".%03ldZ", ts.tv_nsec / 1000000L);

    char line[8192];
    size_t len = 0;
    const int json = log_format == TW_LOG_JSON;
    if (json) {
        append_raw(line, sizeof line, &len, "{\"ts\":\"");
        append_raw(line, sizeof line, &len, when);
        append_raw(line, sizeof line, &len, "\",\"level\":\"");
        append_raw(line, sizeof line, &len, level_names[level]);
        append_raw(line, sizeof line, &len, "\",\"component\":\"");
        append_quoted(line, sizeof line, &len, component, 1);
        append_raw(line, sizeof line, &len, "\",\"msg\":\"");
        append_quoted(line, sizeof line, &len, msg, 1);
        append_raw(line, sizeof line, &len, "\"}\n");
    } else {
        append_raw(line, sizeof line, &len, "ts=");
        append_raw(line, sizeof line, &len, when);
        append_raw(line, sizeof line, &len, " level=");
        append_raw(line, sizeof line, &len, level_names[level]);
        append_raw(line, sizeof line, &len, " component=");
        append_raw(line, sizeof line, &len, component);
        append_raw(line, sizeof line, &len, " msg=\"");
        append_quoted(line, sizeof line, &len, msg, 0);
        append_raw(line, sizeof line, &len, "\"\n");
    }
    /* One write per line so concurrent writers never interleave mid-line. */
    if (len >= sizeof line)
        len = sizeof line - 1;
    if (line[len - 1] != '\n')
        line[len - 1] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void tw_log(tw_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tw_logv(level, component, fmt, ap);
    va_end(ap);
}
