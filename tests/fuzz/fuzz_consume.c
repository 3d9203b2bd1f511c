/*
 * fuzz_consume — libFuzzer target for what `tidewater consume` does with
 * one Kafka message value (or key): avro_json_decode_message(), i.e. the
 * framing reader (Avro single-object C3 01 + fingerprint, Confluent 00 +
 * schema id), the schema lookup and the Avro datum decoder, against the
 * schemas of tests/fuzz/consume_fixture.h. A decoded message is printed
 * the way consume prints it (compact JSON); a failure must say why.
 *
 * Built by tests/fuzz/run.sh (CMake option TW_FUZZ); seeds in
 * tests/fuzz/corpus/consume, written by gen_consume_seeds.
 */
#include "tests/fuzz/consume_fixture.h"

#include <stdint.h>
#include <stdlib.h>

static consume_fixture fx;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    if (fixture_init(&fx, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_consume: fixture: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    err[0] = '\0';
    json_t *j = avro_json_decode_message(data, size, fixture_lookup, &fx, err, sizeof err);
    if (!j) {
        if (err[0] == '\0')
            abort(); /* a failure must say why */
        return 0;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!s)
        abort(); /* what was decoded must print */
    free(s);
    json_decref(j);
    return 0;
}
