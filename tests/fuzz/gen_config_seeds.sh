#!/usr/bin/env bash
# Writes the seed corpus of fuzz_config (tests/fuzz/corpus/config) and its
# dictionary (tests/fuzz/config.dict, every declared key name, so the fuzzer
# reaches the validators instead of "unknown configuration key").
#
#   tests/fuzz/gen_config_seeds.sh
#
# The seeds: the deployment example without its `_file` line (fuzz_config
# skips inputs that name a file), the smallest valid file, librdkafka
# pass-through and secrets, CRLF and blanks, and one of each parse error.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/tests/fuzz/corpus/config
mkdir -p "$out"
rm -f "$out"/*.properties

grep -v '^#' "$root/deploy/tidewater.properties" | grep -v '^$' | grep -v '_file' \
    >"$out/deploy-example.properties"

cat >"$out/minimal.properties" <<'P'
source.conninfo = host=db port=5432 dbname=app user=tw
source.publication = pub
kafka.bootstrap.servers = k1:9092
P

cat >"$out/secrets-passthrough.properties" <<'P'
source.conninfo = postgresql://tw:pw@db:5432/app?sslmode=require
source.password = s3cret
source.publication = pub
kafka.bootstrap.servers = k1:9092,k2:9092
kafka.security.protocol = SASL_SSL
kafka.sasl.mechanism = SCRAM-SHA-512
kafka.sasl.username = tw
kafka.sasl.password = hunter2
kafka.compression.type = zstd
schema.registry.url = https://registry:8081
schema.registry.basic.auth.user.info = user:pass
P

printf '  # comment\r\n\r\nsource.conninfo=host=x password=y\r\nsource.publication =\tpub \r\nkafka.bootstrap.servers = k:1\r\nlog.level = debug\r\ntopic.partitions = 12\r\ntombstones.on.delete = off\r\nschema.webhook.url =\r\nslot.name = s' \
    >"$out/crlf-blanks.properties"

printf 'source.conninfo = x\nslot.nmae = a\n' >"$out/err-unknown-key.properties"
printf 'slot.name = a\nslot.name = b\n' >"$out/err-twice.properties"
printf 'check.timeout.ms = 12x\n' >"$out/err-int.properties"
printf 'log.format = xml\n' >"$out/err-enum.properties"
printf 'source.conninfo\n' >"$out/err-no-equals.properties"

{
    echo '# fuzz_config dictionary: the declared keys (tests/fuzz/gen_config_seeds.sh)'
    grep -o 'TW_KEY([A-Z_0-9]*, *"[^"]*"' "$root/agent/config_keys.def" | sed 's/.*"\(.*\)"/"\1"/'
    printf '"%s"\n' ' = ' '=' '#' 'kafka.' 'true' 'false' 'host=' 'password=' 'postgresql://'
} >"$root/tests/fuzz/config.dict"
ls "$out" | wc -l
