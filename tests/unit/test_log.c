/* Log lines: one event per line, escaped, filtered by level. */
#include "agent/log.h"
#include "tw_test.h"

#include <stdlib.h>
#include <unistd.h>

/* Captures what tw_log writes to stderr while fn runs. */
static void capture(void (*fn)(void), char *buf, size_t size)
{
    char path[] = "/tmp/tw-test-log.XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void emit(void)
{
    tw_debug("test", "hidden at info");
    tw_info("check", "quote \" backslash \\ newline\nend");
    tw_error("kafka", "boom %d", 42);
}

int main(void)
{
    char out[4096];
    tw_log_configure(TW_LOG_INFO, TW_LOG_LOGFMT);
    capture(emit, out, sizeof out);
    EXPECT(!strstr(out, "hidden"), "debug line written at info: %s", out);
    EXPECT_CONTAINS(out,
                    "level=info component=check msg=\"quote \\\" backslash \\\\ newline\\nend\"\n");
    EXPECT_CONTAINS(out, "level=error component=kafka msg=\"boom 42\"\n");
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    EXPECT(lines == 2, "want 2 lines, got %d: %s", lines, out);

    tw_log_configure(TW_LOG_DEBUG, TW_LOG_JSON);
    capture(emit, out, sizeof out);
    EXPECT_CONTAINS(out, "\"level\":\"debug\",\"component\":\"test\",\"msg\":\"hidden at info\"}");
    EXPECT_CONTAINS(out, "\"msg\":\"quote \\\" backslash \\\\ newline\\nend\"}");
    EXPECT(strncmp(out, "{\"ts\":\"", 7) == 0, "json line starts with %.20s", out);

    EXPECT(tw_log_level_parse("warn") == TW_LOG_WARN, "warn");
    EXPECT(tw_log_level_parse("loud") == -1, "loud");
    EXPECT(tw_log_format_parse("json") == TW_LOG_JSON, "json");
    return tw_test_exit("test_log");
}
