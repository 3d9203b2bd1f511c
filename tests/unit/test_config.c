/* Configuration: sources, precedence, validation and the messages that name
 * the key. */
#include "agent/config.h"
#include "agent/pgconn.h"
#include "sinks/kafka_conf.h"
#include "tw_test.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/tw-test-config.XXXXXX";

static const char *write_file(const char *name, const char *content)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

static const char *minimal =
    "# a comment\n"
    "source.conninfo = host=db port=5432 dbname=app user=tw password=s3cret\n"
    "\n"
    "source.publication = pub\n"
    "kafka.bootstrap.servers = k1:9092\n";

/* Loads file (may be NULL), then env, then the --set list; returns the
 * status of the first failing step, err holds its message. */
static int load(tw_config *cfg, const char *file, char **env, const char **sets, char *err,
                size_t errsize)
{
    err[0] = '\0';
    if (file && tw_config_load_file(cfg, file, err, errsize) != 0)
        return -1;
    if (tw_config_load_env(cfg, env, err, errsize) != 0)
        return -1;
    for (const char **s = sets; s && *s; s++)
        if (tw_config_set(cfg, *s, "--set", err, errsize) != 0)
            return -1;
    return tw_config_finish(cfg, err, errsize);
}

static void test_defaults_and_file(void)
{
    char err[512];
    tw_config *cfg = tw_config_new();
    const char *f = write_file("ok.properties", minimal);
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) == 0, "load failed: %s", err);
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SOURCE_PUBLICATION), "pub");
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SLOT_NAME), "tidewater");
    EXPECT_STR(tw_config_origin(cfg, TW_CFG_SLOT_NAME), "default");
    EXPECT(tw_config_int(cfg, TW_CFG_CHECK_TIMEOUT_MS) == 10000, "timeout %lld",
           tw_config_int(cfg, TW_CFG_CHECK_TIMEOUT_MS));
    EXPECT_CONTAINS(tw_config_origin(cfg, TW_CFG_SOURCE_PUBLICATION), "ok.properties:4");
    EXPECT(tw_config_str(cfg, TW_CFG_SOURCE_PASSWORD) == NULL, "password should be unset");
    tw_config_free(cfg);
}

static void test_unknown_key(void)
{
    char err[512];
    tw_config *cfg = tw_config_new();
    const char *f = write_file("unknown.properties", "source.conninfo = x\nslot.nmae = a\n");
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) != 0, "unknown key accepted");
    EXPECT_CONTAINS(err, "unknown configuration key 'slot.nmae'");
    EXPECT_CONTAINS(err, "unknown.properties:2");
    EXPECT_CONTAINS(err, "did you mean 'slot.name'");
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *sets[] = {"nonsense.key=1", NULL};
    EXPECT(load(cfg, NULL, NULL, sets, err, sizeof err) != 0, "unknown --set key accepted");
    EXPECT_CONTAINS(err, "'nonsense.key'");
    tw_config_free(cfg);
}

static void test_bad_values(void)
{
    char err[512];
    tw_config *cfg = tw_config_new();
    const char *sets[] = {"check.timeout.ms=12x", NULL};
    EXPECT(load(cfg, NULL, NULL, sets, err, sizeof err) != 0, "bad integer accepted");
    EXPECT_CONTAINS(err, "'check.timeout.ms' must be an integer");
    EXPECT_CONTAINS(err, "got '12x'");
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *range[] = {"check.timeout.ms=5", NULL};
    EXPECT(load(cfg, NULL, NULL, range, err, sizeof err) != 0, "out-of-range integer accepted");
    EXPECT_CONTAINS(err, "from 100 to 600000");
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *en[] = {"log.format=xml", NULL};
    EXPECT(load(cfg, NULL, NULL, en, err, sizeof err) != 0, "bad enum accepted");
    EXPECT_CONTAINS(err, "'log.format' must be one of logfmt|json, got 'xml'");
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *f = write_file("malformed.properties", "source.conninfo\n");
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) != 0, "line without '=' accepted");
    EXPECT_CONTAINS(err, "malformed.properties:1: expected 'key = value'");
    tw_config_free(cfg);

    cfg = tw_config_new();
    f = write_file("twice.properties", "slot.name = a\nslot.name = b\n");
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) != 0, "duplicate key accepted");
    EXPECT_CONTAINS(err, "twice.properties:2: 'slot.name' is set twice (first at");
    tw_config_free(cfg);
}

/* The parser under the file loader, on bytes: no terminator needed, CRLF
 * and a last line without a newline are fine, a NUL byte is an error that
 * says where (a file with one used to lose the rest of its line). */
static void test_buffer(void)
{
    char err[512] = "";
    tw_config *cfg = tw_config_new();
    static const char text[] = "source.publication = pub\r\n  # note\r\nslot.name=s1xyz";
    EXPECT(tw_config_load_buffer(cfg, "buf", text, sizeof text - 4, err, sizeof err) == 0,
           "buffer rejected: %s", err);
    const char *sets[] = {"source.conninfo=host=x", "kafka.bootstrap.servers=k:1", NULL};
    EXPECT(load(cfg, NULL, NULL, sets, err, sizeof err) == 0, "finish failed: %s", err);
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SLOT_NAME), "s1");
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SOURCE_PUBLICATION), "pub");
    EXPECT_STR(tw_config_origin(cfg, TW_CFG_SLOT_NAME), "buf:3");
    tw_config_free(cfg);

    static const char nul[] = "source.publication = pub\nslot.name = a\0b\n";
    cfg = tw_config_new();
    EXPECT(tw_config_load_buffer(cfg, "nul", nul, sizeof nul - 1, err, sizeof err) != 0,
           "NUL byte accepted");
    EXPECT_STR(err, "nul:2: NUL byte at column 14 (not a text file?)");
    tw_config_free(cfg);

    /* The same through the file loader. */
    const char *f = write_file("nul.properties", "");
    FILE *fp = fopen(f, "wb");
    fwrite(nul, 1, sizeof nul - 1, fp);
    fclose(fp);
    cfg = tw_config_new();
    EXPECT(tw_config_load_file(cfg, f, err, sizeof err) != 0, "file with a NUL byte accepted");
    EXPECT_CONTAINS(err, "nul.properties:2: NUL byte at column 14");
    tw_config_free(cfg);

    /* Nothing at all is an empty source, not an error. */
    cfg = tw_config_new();
    EXPECT(tw_config_load_buffer(cfg, "empty", "", 0, err, sizeof err) == 0, "empty: %s", err);
    tw_config_free(cfg);
}

static void test_missing_required(void)
{
    char err[512];
    tw_config *cfg = tw_config_new();
    const char *f = write_file("partial.properties", "source.conninfo = host=x\n"
                                                     "kafka.bootstrap.servers = k:1\n");
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) != 0, "missing required key accepted");
    EXPECT_CONTAINS(err, "missing required configuration key 'source.publication'");
    EXPECT_CONTAINS(err, "TIDEWATER_SOURCE_PUBLICATION");
    tw_config_free(cfg);
}

static void test_precedence(void)
{
    char err[512];
    const char *f = write_file("prec.properties", minimal);
    char *env[] = {"PATH=/bin", "TIDEWATER_SLOT_NAME=from_env",
                   "TIDEWATER_SOURCE_PUBLICATION=env_pub", "TIDEWATER_KAFKA_LINGER_MS=7", NULL};

    /* env beats the file */
    tw_config *cfg = tw_config_new();
    EXPECT(load(cfg, f, env, NULL, err, sizeof err) == 0, "load failed: %s", err);
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SLOT_NAME), "from_env");
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SOURCE_PUBLICATION), "env_pub");
    EXPECT_STR(tw_config_origin(cfg, TW_CFG_SLOT_NAME), "env TIDEWATER_SLOT_NAME");
    EXPECT(tw_config_kafka_count(cfg) == 1, "kafka props %zu", tw_config_kafka_count(cfg));
    if (tw_config_kafka_count(cfg) == 1) {
        const char *name, *value;
        tw_config_kafka_get(cfg, 0, &name, &value, NULL);
        EXPECT_STR(name, "linger.ms");
        EXPECT_STR(value, "7");
    }
    tw_config_free(cfg);

    /* --set beats env and file; a later --set beats an earlier one */
    cfg = tw_config_new();
    const char *sets[] = {"slot.name=from_set", "slot.name=from_set2",
                          "source.application_name=tw-test", NULL};
    EXPECT(load(cfg, f, env, sets, err, sizeof err) == 0, "load failed: %s", err);
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SLOT_NAME), "from_set2");
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SOURCE_APPLICATION_NAME), "tw-test");
    EXPECT_STR(tw_config_origin(cfg, TW_CFG_SLOT_NAME), "--set");
    tw_config_free(cfg);

    /* an unknown TIDEWATER_ variable is an error naming it */
    char *badenv[] = {"TIDEWATER_SLOTNAME=x", NULL};
    cfg = tw_config_new();
    EXPECT(load(cfg, f, badenv, NULL, err, sizeof err) != 0, "unknown env var accepted");
    EXPECT_CONTAINS(err, "TIDEWATER_SLOTNAME does not name a configuration key");
    tw_config_free(cfg);
}

static void test_secret_files(void)
{
    char err[512], line[256];
    const char *secret = write_file("pw", "hunter2\n");
    char file_line[600];
    snprintf(file_line, sizeof file_line,
             "source.conninfo = host=db user=tw password=inline\nsource.publication = p\n"
             "kafka.bootstrap.servers = k:1\nsource.password_file = %s\n"
             "kafka.sasl.password_file = %s\n",
             secret, secret);
    const char *f = write_file("secret.properties", file_line);
    tw_config *cfg = tw_config_new();
    EXPECT(load(cfg, f, NULL, NULL, err, sizeof err) == 0, "load failed: %s", err);
    EXPECT_STR(tw_config_str(cfg, TW_CFG_SOURCE_PASSWORD), "hunter2");

    /* the dump hides every secret, including the conninfo password */
    char dump_path[512];
    snprintf(dump_path, sizeof dump_path, "%s/dump", tmpdir);
    FILE *out = fopen(dump_path, "w");
    tw_config_dump(cfg, out);
    fclose(out);
    FILE *in = fopen(dump_path, "r");
    int saw_secret = 0, saw_conninfo = 0;
    while (fgets(line, sizeof line, in)) {
        if (strstr(line, "hunter2") || strstr(line, "inline"))
            saw_secret = 1;
        if (strstr(line, "source.conninfo") && strstr(line, "password='********'"))
            saw_conninfo = 1;
    }
    fclose(in);
    EXPECT(!saw_secret, "a secret value appeared in the dump");
    EXPECT(saw_conninfo, "conninfo password not shown as ********");
    tw_config_free(cfg);

    /* an unreadable secret file names the key and the path */
    cfg = tw_config_new();
    const char *sets[] = {"source.password_file=/nonexistent/pw", NULL};
    EXPECT(load(cfg, NULL, NULL, sets, err, sizeof err) != 0, "missing secret file accepted");
    EXPECT_CONTAINS(err, "'source.password_file': cannot open '/nonexistent/pw'");
    tw_config_free(cfg);

    /* a bad secret value is reported without echoing it */
    cfg = tw_config_new();
    const char *bad[] = {"check.timeout.ms=abc", NULL};
    EXPECT(load(cfg, NULL, NULL, bad, err, sizeof err) != 0, "bad value accepted");
    tw_config_free(cfg);
}

static void test_kafka_passthrough(void)
{
    char err[512];
    const char *f = write_file("kafka.properties", minimal);

    tw_config *cfg = tw_config_new();
    const char *sets[] = {"kafka.no.such.property=1", NULL};
    EXPECT(load(cfg, f, NULL, sets, err, sizeof err) == 0, "load failed: %s", err);
    rd_kafka_conf_t *conf = kafka_conf_build(cfg, "t", NULL, err, sizeof err);
    EXPECT(conf == NULL, "librdkafka accepted an unknown property");
    EXPECT_CONTAINS(err, "'kafka.no.such.property' is not a librdkafka property");
    if (conf)
        rd_kafka_conf_destroy(conf);
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *bad[] = {"kafka.linger.ms=soon", NULL};
    EXPECT(load(cfg, f, NULL, bad, err, sizeof err) == 0, "load failed: %s", err);
    conf = kafka_conf_build(cfg, "t", NULL, err, sizeof err);
    EXPECT(conf == NULL, "librdkafka accepted linger.ms=soon");
    EXPECT_CONTAINS(err, "'kafka.linger.ms' is invalid");
    if (conf)
        rd_kafka_conf_destroy(conf);
    tw_config_free(cfg);

    cfg = tw_config_new();
    const char *good[] = {"kafka.linger.ms=20", NULL};
    EXPECT(load(cfg, f, NULL, good, err, sizeof err) == 0, "load failed: %s", err);
    conf = kafka_conf_build(cfg, "t", NULL, err, sizeof err);
    EXPECT(conf != NULL, "valid property refused: %s", err);
    if (conf) {
        char val[64];
        size_t vs = sizeof val;
        rd_kafka_conf_get(conf, "linger.ms", val, &vs);
        EXPECT_STR(val, "20");
        vs = sizeof val;
        rd_kafka_conf_get(conf, "bootstrap.servers", val, &vs);
        EXPECT_STR(val, "k1:9092");
        rd_kafka_conf_destroy(conf);
    }
    tw_config_free(cfg);
}

static void test_redact_and_env_names(void)
{
    char buf[128];
    EXPECT_STR(tw_config_env_name("source.application_name", buf, sizeof buf),
               "TIDEWATER_SOURCE_APPLICATION_NAME");
    char *r = tw_pg_redact_conninfo("host=a password='it\\'s' user=b");
    EXPECT(r && !strstr(r, "it"), "password leaked: %s", r ? r : "(null)");
    EXPECT_CONTAINS(r, "password='********'");
    EXPECT_CONTAINS(r, "host='a'");
    free(r);
    EXPECT(tw_pg_redact_conninfo("host='unterminated") == NULL, "bad conninfo parsed");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults_and_file();
    test_unknown_key();
    test_bad_values();
    test_buffer();
    test_missing_required();
    test_precedence();
    test_secret_files();
    test_kafka_passthrough();
    test_redact_and_env_names();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return tw_test_exit("test_config");
}
