/*
 * fuzz_config — libFuzzer target for the properties-file parser
 * (tw_config_load_buffer(), which tw_config_load_file() uses), followed by
 * what a loaded file goes through next: tw_config_finish() (defaults,
 * required keys) and tw_config_dump() (secrets and passwords inside
 * connection strings redacted).
 *
 * An input that names a `<key>_file` is skipped: that line opens and reads
 * the named file, and a fuzzer must not read /dev/stdin or the disk.
 *
 * Built by tests/fuzz/run.sh (CMake option TW_FUZZ); seeds in
 * tests/fuzz/corpus/config.
 */
#include "agent/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    return 0;
}

static int names_a_file(const uint8_t *data, size_t size)
{
    static const char pat[] = "_file";
    for (size_t i = 0; i + sizeof pat - 1 <= size; i++)
        if (memcmp(data + i, pat, sizeof pat - 1) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (names_a_file(data, size))
        return 0;
    tw_config *cfg = tw_config_new();
    if (!cfg)
        return 0;
    char err[512];
    err[0] = '\0';
    if (tw_config_load_buffer(cfg, "fuzz.properties", (const char *)data, size, err, sizeof err) !=
        0) {
        /* Every parse error names the source and line. */
        if (strncmp(err, "fuzz.properties:", 16) != 0)
            abort();
    } else {
        err[0] = '\0';
        if (tw_config_finish(cfg, err, sizeof err) == 0)
            tw_config_dump(cfg, devnull);
        else if (err[0] == '\0')
            abort();
    }
    tw_config_free(cfg);
    return 0;
}
