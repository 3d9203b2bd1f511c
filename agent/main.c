/*
 * main.c — the `tidewater` command line.
 *
 *   tidewater version
 *   tidewater run    [--config FILE] [--set key=value]...
 *   tidewater check  [--config FILE] [--set key=value]...
 *   tidewater consume --topic T [--from-beginning] [--max N] [--until-end] [...]
 *   tidewater config --doc
 *   tidewater config --show [--config FILE] [--set key=value]...
 *
 * Exit status: 0 success; 1 a check failed or the command failed;
 * 2 usage or configuration error.
 */
#include "agent/check.h"
#include "agent/config.h"
#include "agent/consume.h"
#include "agent/schemas_cli.h"
#include "agent/http.h"
#include "agent/log.h"
#include "agent/pipeline.h"
#include "sinks/kafka_conf.h"

#include <libpq-fe.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

extern char **environ;

#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "Tidewater %s: PostgreSQL logical replication to Kafka as Avro, read-only.\n"
            "\n"
            "Usage:\n"
            "  tidewater run    [--config FILE] [--set key=value]...\n"
            "      Stream every committed change of the publication's tables to Kafka.\n"
            "      SIGTERM/SIGINT: stop reading, deliver what is queued, report, exit 0.\n"
            "  tidewater check  [--config FILE] [--set key=value]...\n"
            "      Preflight: verify the server, publication, role, slot and Kafka, one line\n"
            "      per check with the fix for each failure. Exit 1 if any check fails.\n"
            "  tidewater consume --topic TOPIC [--from-beginning] [--max N] [--until-end]\n"
            "                   [--config FILE] [--set key=value]...\n"
            "      Print a Tidewater topic's messages as JSON lines, decoding the Avro with\n"
            "      the schemas in <topic.prefix>.schemas. Needs only the kafka.* keys.\n"
            "  tidewater schemas list|diff TABLE|accept TABLE [--config FILE] [--set k=v]...\n"
            "      The schema store: stored fingerprints; stored vs catalog (exit 1 when\n"
            "      they differ); accept a breaking change (asks the running agent, else\n"
            "      writes the store). TABLE is schema.table.\n"
            "  tidewater healthcheck [--config FILE] [--set key=value]...\n"
            "      Exit 0 when the running agent's /healthz (at http.listen) answers 200.\n"
            "  tidewater config --doc\n"
            "      Print the configuration reference (Markdown).\n"
            "  tidewater config --show [--config FILE] [--set key=value]...\n"
            "      Print the effective configuration, secrets hidden.\n"
            "  tidewater version\n"
            "  tidewater --help\n"
            "\n"
            "Configuration: a properties file (--config), overridden by TIDEWATER_<KEY>\n"
            "environment variables, overridden by --set. Keys:\n",
            TW_VERSION);
    for (int k = 0; k < TW_CFG__COUNT; k++)
        fprintf(out, "  %-26s%s\n", tw_config_defs[k].name,
                (tw_config_defs[k].flags & TW_CF_REQUIRED) ? "(required)" : "");
    fprintf(out, "  kafka.<property>           any librdkafka property, passed through\n");
}

static int cmd_version(void)
{
    int pq = PQlibVersion();
    printf("tidewater %s (libpq %d.%d, librdkafka %s, zstd %s)\n", TW_VERSION, pq / 10000,
           pq % 10000, rd_kafka_version_str(), ZSTD_versionString());
    return 0;
}

/* Parses --config/--set from argv[first..], loads file, environment and
 * assignments in that order, and validates. Returns NULL after logging the
 * error. *extra receives flags this helper does not know (for the caller). */
static tw_config *load_config(int argc, char **argv, int first, const char **flag,
                              const tw_config_key *not_needed, size_t n_not_needed)
{
    char err[1024] = "";
    const char *file = NULL;
    tw_config *cfg = tw_config_new();
    if (!cfg) {
        tw_error("config", "out of memory");
        return NULL;
    }
    /* First pass: the file, so that its values sit under env and --set. */
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
            if (i + 1 >= argc) {
                tw_error("cli", "%s needs a file name", argv[i]);
                goto fail;
            }
            file = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0) {
            if (i + 1 >= argc) {
                tw_error("cli", "--set needs key=value");
                goto fail;
            }
            i++;
        } else if (flag && argv[i][0] == '-' && !*flag) {
            *flag = argv[i];
        } else {
            tw_error("cli", "unexpected argument '%s' (see tidewater --help)", argv[i]);
            goto fail;
        }
    }
    if (file && tw_config_load_file(cfg, file, err, sizeof err) != 0)
        goto fail_err;
    if (tw_config_load_env(cfg, environ, err, sizeof err) != 0)
        goto fail_err;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--set") == 0) {
            if (tw_config_set(cfg, argv[++i], "--set", err, sizeof err) != 0)
                goto fail_err;
        } else if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
            i++;
        }
    }
    if (tw_config_finish_except(cfg, not_needed, n_not_needed, err, sizeof err) != 0)
        goto fail_err;

    tw_log_configure(tw_log_level_parse(tw_config_str(cfg, TW_CFG_LOG_LEVEL)),
                     tw_log_format_parse(tw_config_str(cfg, TW_CFG_LOG_FORMAT)));

    /* librdkafka judges the kafka.* keys now, not at first use. */
    rd_kafka_conf_t *kconf = kafka_conf_build(cfg, "tidewater", NULL, err, sizeof err);
    if (!kconf)
        goto fail_err;
    rd_kafka_conf_destroy(kconf);
    return cfg;

fail_err:
    tw_error("config", "%s", err);
fail:
    tw_config_free(cfg);
    return NULL;
}

static int cmd_check(int argc, char **argv)
{
    tw_config *cfg = load_config(argc, argv, 2, NULL, NULL, 0);
    if (!cfg)
        return EXIT_USAGE;
    int fails = tw_check_run(cfg, stdout);
    tw_config_free(cfg);
    return fails ? 1 : 0;
}

static volatile sig_atomic_t stop_requested;

/* Only sets the flag; the loop does the shutdown work. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static int cmd_run(int argc, char **argv)
{
    tw_config *cfg = load_config(argc, argv, 2, NULL, NULL, 0);
    if (!cfg)
        return EXIT_USAGE;
    install_stop_handlers();
    signal(SIGPIPE, SIG_IGN);
    tw_info("main", "tidewater %s starting", TW_VERSION);
    int rc = tw_pipeline_run(cfg, &stop_requested);
    tw_config_free(cfg);
    return rc;
}

static int cmd_consume(int argc, char **argv)
{
    tw_consume_opts o = {0};
    /* Take out consume's own flags; the rest is --config/--set. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (i >= 2 && strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            o.topic = argv[++i];
        } else if (i >= 2 && strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
            char *end;
            o.max = strtol(argv[++i], &end, 10);
            if (*end || o.max <= 0) {
                tw_error("cli", "--max needs a positive number, got '%s'", argv[i]);
                free(rest);
                return EXIT_USAGE;
            }
        } else if (i >= 2 && strcmp(argv[i], "--from-beginning") == 0) {
            o.from_beginning = 1;
        } else if (i >= 2 && strcmp(argv[i], "--until-end") == 0) {
            o.until_end = 1;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (!o.topic) {
        tw_error("cli", "consume needs --topic TOPIC (see tidewater --help)");
        free(rest);
        return EXIT_USAGE;
    }
    static const tw_config_key not_needed[] = {TW_CFG_SOURCE_CONNINFO, TW_CFG_SOURCE_PUBLICATION};
    tw_config *cfg = load_config(nrest, rest, 2, NULL, not_needed, 2);
    free(rest);
    if (!cfg)
        return EXIT_USAGE;
    install_stop_handlers();
    int rc = tw_consume_run(cfg, &o, &stop_requested, stdout);
    tw_config_free(cfg);
    return rc;
}

static int cmd_healthcheck(int argc, char **argv)
{
    static const tw_config_key not_needed[] = {TW_CFG_SOURCE_CONNINFO, TW_CFG_SOURCE_PUBLICATION,
                                               TW_CFG_KAFKA_BOOTSTRAP_SERVERS};
    tw_config *cfg = load_config(argc, argv, 2, NULL, not_needed, 3);
    if (!cfg)
        return EXIT_USAGE;
    char err[512];
    int rc = tw_http_probe(tw_config_str(cfg, TW_CFG_HTTP_LISTEN), "/healthz", err, sizeof err);
    if (rc != 0)
        tw_error("healthcheck", "%s", err);
    tw_config_free(cfg);
    return rc;
}

static int cmd_schemas(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : "";
    int needs_table = strcmp(sub, "diff") == 0 || strcmp(sub, "accept") == 0;
    if (!needs_table && strcmp(sub, "list") != 0) {
        tw_error("cli", "schemas needs list, diff TABLE or accept TABLE (see tidewater --help)");
        return EXIT_USAGE;
    }
    if (needs_table && (argc < 4 || argv[3][0] == '-')) {
        tw_error("cli", "schemas %s needs a table: schema.table", sub);
        return EXIT_USAGE;
    }
    tw_config *cfg = load_config(argc, argv, needs_table ? 4 : 3, NULL, NULL, 0);
    if (!cfg)
        return EXIT_USAGE;
    int rc = tw_schemas_cli(cfg, sub, needs_table ? argv[3] : NULL);
    tw_config_free(cfg);
    return rc;
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[2], "--doc") == 0) {
        tw_config_write_doc(stdout);
        return 0;
    }
    const char *flag = NULL;
    tw_config *cfg = load_config(argc, argv, 2, &flag, NULL, 0);
    if (!cfg)
        return EXIT_USAGE;
    if (!flag || strcmp(flag, "--show") != 0) {
        tw_error("cli", "config needs --doc or --show (see tidewater --help)");
        tw_config_free(cfg);
        return EXIT_USAGE;
    }
    tw_config_dump(cfg, stdout);
    tw_config_free(cfg);
    return 0;
}

/* glibc gives each thread that allocates its own arena. Snapshot workers
 * allocate the producer's messages and the pipeline thread frees them, so
 * every arena kept pages the others had freed: 4 snapshot threads of the
 * benchmark peaked at 56-67 MiB RSS, at 50-51 MiB with two arenas, no
 * slower. The MALLOC_ARENA_MAX environment variable still decides when set. */
static void limit_malloc_arenas(void)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char **argv)
{
    limit_malloc_arenas();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "consume") == 0)
        return cmd_consume(argc, argv);
    if (strcmp(cmd, "healthcheck") == 0)
        return cmd_healthcheck(argc, argv);
    if (strcmp(cmd, "schemas") == 0)
        return cmd_schemas(argc, argv);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(argc, argv);
    tw_error("cli", "unknown command '%s' (see tidewater --help)", cmd);
    return EXIT_USAGE;
}
