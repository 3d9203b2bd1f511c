#!/usr/bin/env bash
# The deployment artifacts under deploy/ are valid and agree with the binary:
#   a. every YAML file parses;
#   b. the Kubernetes manifests (and the Dockerfile's ENV) set only
#      TIDEWATER_* variables that name configuration keys, with string values,
#      reference only ConfigMap/Secret keys that exist, turn service links
#      off, and the agent accepts the resulting environment (`config --show`);
#   c. deploy/tidewater.properties covers every key, uses only known keys, and
#      the agent accepts it;
#   d. the Dockerfile's apt packages exist in Debian bookworm, and its runtime
#      stage installs the package of every library the binary links;
#   e. promtool accepts deploy/prometheus/alerts.yaml and its unit tests
#      (alerts_test.yaml) pass; against a running agent (its servers refuse
#      connections), every metric and label value the rules select exists,
#      every probe and PodMonitor path answers, and `tidewater healthcheck`
#      (the image's HEALTHCHECK) passes;
#   f. deploy/systemd/tidewater.service passes `systemd-analyze verify` and
#      has the keys the deployment relies on.
# Needs no services: the binary, the project venv's Python with PyYAML,
# promtool (Debian `prometheus`), apt-cache and, if present, systemd-analyze.
set -euo pipefail

TW_SOURCE_DIR=${TW_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TW_BIN=${TW_BIN:-$TW_SOURCE_DIR/build/tidewater}
TW_PYTHON=${TW_PYTHON:-$TW_SOURCE_DIR/.cache/venv/bin/python}
DEPLOY=$TW_SOURCE_DIR/deploy

fail() {
    echo "FAIL [deploy_files]: $*" >&2
    exit 1
}
note() { echo "[deploy_files] $*"; }

[ -x "$TW_BIN" ] || fail "no tidewater binary at $TW_BIN (build it, or set TW_BIN)"
[ -x "$TW_PYTHON" ] || fail "no Python at $TW_PYTHON (tests/env/install.sh creates the venv, or set TW_PYTHON)"
"$TW_PYTHON" -c 'import yaml' 2>/dev/null ||
    fail "PyYAML is missing in $TW_PYTHON's environment (tests/env/install.sh installs it)"

# The configuration checks must see only what the files say: drop any
# TIDEWATER_* variable this test inherited.
while IFS= read -r var; do
    unset "$var"
done < <(compgen -e | grep '^TIDEWATER_' || true)

work=$(mktemp -d)
agent_pid=""
cleanup() {
    if [ -n "$agent_pid" ]; then
        { kill -KILL "$agent_pid" && wait "$agent_pid"; } 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Known configuration keys, from the binary itself: the rows of the reference
# table look like "| [`source.conninfo`](#sourceconninfo) | ...".
"$TW_BIN" config --doc >"$work/doc.md" || fail "'$TW_BIN config --doc' failed"
# shellcheck disable=SC2016 # the backquotes are literal Markdown
sed -n 's/^| \[`\([^`]*\)`\].*/\1/p' "$work/doc.md" >"$work/keys"
[ -s "$work/keys" ] || fail "found no key rows ('| [\`key\`]') in '$TW_BIN config --doc'"
# ... and their environment variables: TIDEWATER_<KEY>, TIDEWATER_<KEY>_FILE.
awk '{ k = toupper($0); gsub(/\./, "_", k); print "TIDEWATER_" k; print "TIDEWATER_" k "_FILE" }' \
    "$work/keys" >"$work/envnames"
note "$(wc -l <"$work/keys") configuration keys from $TW_BIN config --doc"

# A stand-in for every secret file the examples point at.
printf 'not-a-real-secret\n' >"$work/secret"
chmod 600 "$work/secret"

# known_env NAME: a configuration key's variable, or a librdkafka pass-through.
known_env() {
    case "$1" in
    TIDEWATER_KAFKA_?*) return 0 ;;
    esac
    grep -qxF -- "$1" "$work/envnames"
}
# known_key KEY: a configuration key, its _file form, or a kafka.* property.
known_key() {
    case "$1" in
    kafka.?*) return 0 ;;
    esac
    grep -qxF -- "$1" "$work/keys" || { [ "${1%_file}" != "$1" ] && grep -qxF -- "${1%_file}" "$work/keys"; }
}

# ---------------------------------------------------------------------------
# a. Every YAML file under deploy/ parses.
# ---------------------------------------------------------------------------
mapfile -t yaml_files < <(find "$DEPLOY" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
[ "${#yaml_files[@]}" -gt 0 ] || fail "no YAML files under $DEPLOY"
"$TW_PYTHON" - "${yaml_files[@]}" <<'PY' || fail "a YAML file under deploy/ does not parse (above)"
import sys
import yaml

bad = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if not docs:
            raise ValueError("no YAML document in the file")
    except (yaml.YAMLError, ValueError, UnicodeDecodeError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        bad = 1
sys.exit(bad)
PY
note "a. ${#yaml_files[@]} YAML files parse"

# ---------------------------------------------------------------------------
# b. Environment variables of the Kubernetes manifests and the Dockerfile.
# ---------------------------------------------------------------------------
# The helper checks the references between the manifests and writes, for
# every container that sets TIDEWATER_* variables, the file
# $work/env/<workload>.<container> with its NAME=VALUE lines (literal values
# and ConfigMaps loaded with envFrom; values from Secrets are placeholders).
mkdir -p "$work/env"
mapfile -t k8s_files < <(find "$DEPLOY/kubernetes" -type f -name '*.yaml' | sort)
[ "${#k8s_files[@]}" -gt 0 ] || fail "no manifests under $DEPLOY/kubernetes"
"$TW_PYTHON" - "$work/env" "${k8s_files[@]}" <<'PY' || fail "the Kubernetes manifests are inconsistent (above)"
import os
import sys

import yaml

outdir, paths = sys.argv[1], sys.argv[2:]
errors = []
configmaps, secrets, workloads = {}, {}, []
for path in paths:
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if not isinstance(doc, dict):
                continue
            kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
            if kind == "ConfigMap":
                data = doc.get("data") or {}
                for k, v in data.items():
                    if not isinstance(v, str):
                        errors.append(f"{path}: ConfigMap '{name}': the value of {k} is a YAML "
                                      f"{type(v).__name__}, Kubernetes wants a string (quote it)")
                configmaps[name] = {k: str(v) for k, v in data.items()}
            elif kind == "Secret":
                keys = dict(doc.get("stringData") or {})
                keys.update(doc.get("data") or {})
                secrets[name] = keys
            elif kind == "Pod":
                workloads.append((path, name, doc.get("spec") or {}))
            else:
                pod = ((doc.get("spec") or {}).get("template") or {}).get("spec")
                if pod:
                    workloads.append((path, name, pod))
if not workloads:
    errors.append("no workload (a pod template) in the manifests")

def ref(kind, objects, name, key, where, optional):
    if name not in objects:
        if not optional:
            errors.append(f"{where}: {kind} '{name}' is not defined in deploy/kubernetes")
        return None
    if key is not None and key not in objects[name]:
        if not optional:
            errors.append(f"{where}: {kind} '{name}' has no key '{key}'")
        return None
    return objects[name] if key is None else objects[name][key]

http_paths = set()
for path in paths:
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if isinstance(doc, dict) and doc.get("kind") == "PodMonitor":
                for ep in (doc.get("spec") or {}).get("podMetricsEndpoints") or []:
                    http_paths.add(ep.get("path", "/metrics"))
for path, wname, pod in workloads:
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = (c.get(probe) or {}).get("httpGet")
            if get:
                http_paths.add(get.get("path", "/"))
with open(os.path.join(outdir, "..", "http_paths"), "w", encoding="utf-8") as f:
    f.writelines(p + "\n" for p in sorted(http_paths))

for path, wname, pod in workloads:
    for vol in pod.get("volumes") or []:
        sec = vol.get("secret")
        if sec:
            for item in sec.get("items") or []:
                ref("Secret", secrets, sec.get("secretName"), item.get("key"),
                    f"{path}: volume '{vol.get('name')}'", sec.get("optional", False))
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        where = f"{path}: {wname}/{c.get('name')}"
        # A stray ": " in an unquoted shell line makes it a mapping.
        argv = {"command": c.get("command"), "args": c.get("args")}
        for hook in ("postStart", "preStop"):
            argv[hook] = (((c.get("lifecycle") or {}).get(hook) or {}).get("exec") or {}).get("command")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            argv[probe] = ((c.get(probe) or {}).get("exec") or {}).get("command")
        for what, words in argv.items():
            for i, w in enumerate(words or []):
                if not isinstance(w, str):
                    errors.append(f"{where}: {what}[{i}] is a YAML {type(w).__name__}, not a "
                                  "string (quote it)")
        for e in c.get("env") or []:
            if "value" in e and not isinstance(e["value"], str):
                errors.append(f"{where}: env {e.get('name')} has a non-string value (quote it)")
        env = {}
        for src in c.get("envFrom") or []:
            prefix = src.get("prefix", "")
            if "configMapRef" in src:
                r = src["configMapRef"]
                data = ref("ConfigMap", configmaps, r.get("name"), None, where, r.get("optional", False))
                env.update({prefix + k: v for k, v in (data or {}).items()})
            if "secretRef" in src:
                r = src["secretRef"]
                data = ref("Secret", secrets, r.get("name"), None, where, r.get("optional", False))
                env.update({prefix + k: "placeholder" for k in (data or {})})
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                r = vf["configMapKeyRef"]
                env[e["name"]] = ref("ConfigMap", configmaps, r.get("name"), r.get("key"),
                                     where, r.get("optional", False)) or ""
            elif "secretKeyRef" in vf:
                r = vf["secretKeyRef"]
                ref("Secret", secrets, r.get("name"), r.get("key"), where, r.get("optional", False))
                env[e["name"]] = "placeholder"
            else:
                env[e["name"]] = str(e.get("value", ""))
        tw = {k: v for k, v in env.items() if k.startswith("TIDEWATER_")}
        if not tw:
            continue
        # Service links would add TIDEWATER_SERVICE_HOST & co. for a Service
        # named tidewater, which the agent rejects as unknown keys.
        if pod.get("enableServiceLinks", True) is not False:
            errors.append(f"{where}: sets TIDEWATER_* variables but the pod does not set "
                          "enableServiceLinks: false (a Service named tidewater* would inject "
                          "TIDEWATER_SERVICE_HOST, TIDEWATER_PORT, ...)")
        for k, v in tw.items():
            if "\n" in v:
                errors.append(f"{where}: the value of {k} spans lines")
        with open(os.path.join(outdir, f"{wname}.{c.get('name')}"), "w", encoding="utf-8") as f:
            for k in sorted(tw):
                f.write(f"{k}={tw[k]}\n")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# The Dockerfile's ENV lines set variables too.
sed -n 's/^ENV[[:space:]]\{1,\}\(TIDEWATER_[A-Z0-9_]*\)[=[:space:]]\(.*\)$/\1=\2/p' "$DEPLOY/Dockerfile" \
    >"$work/env/Dockerfile.runtime"

shopt -s nullglob
env_files=("$work"/env/*)
shopt -u nullglob
[ "${#env_files[@]}" -gt 1 ] || fail "no container in deploy/kubernetes sets TIDEWATER_* variables"
checked=0
for f in "${env_files[@]}"; do
    where=$(basename "$f")
    while IFS= read -r line; do
        name=${line%%=*}
        known_env "$name" || fail "$where sets $name, which names no configuration key of $TW_BIN (config --doc) and is not a TIDEWATER_KAFKA_* librdkafka property"
        checked=$((checked + 1))
    done <"$f"
done
note "b. $checked TIDEWATER_* variables name known keys"

# The agent accepts each container's environment as a whole (required keys,
# types, enums, librdkafka properties). Secret files are stand-ins here.
for f in "$work"/env/*; do
    where=$(basename "$f")
    [ "$where" = Dockerfile.runtime ] && continue
    vars=()
    while IFS= read -r line; do
        name=${line%%=*}
        case "$name" in
        *_FILE) line="$name=$work/secret" ;;
        esac
        vars+=("$line")
    done <"$f"
    if ! out=$(env -i PATH="$PATH" "${vars[@]}" "$TW_BIN" config --show 2>&1); then
        fail "$where: the agent rejects the environment the manifests give it:
$out"
    fi
    grep -q 'http.listen = 0.0.0.0:8080' <<<"$out" ||
        fail "$where: http.listen is not 0.0.0.0:8080 (probes and the PodMonitor need it):
$out"
done
note "b. the agent accepts every container's environment"

# ---------------------------------------------------------------------------
# c. The example properties file.
# ---------------------------------------------------------------------------
props=$DEPLOY/tidewater.properties
[ -f "$props" ] || fail "$props is missing"
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    trimmed=${line#"${line%%[![:space:]]*}"}
    case "$trimmed" in '' | '#'*) continue ;; esac
    case "$trimmed" in *=*) ;; *) fail "$props:$lineno: not a 'key = value' line: $line" ;; esac
    key=${trimmed%%=*}
    key=${key%"${key##*[![:space:]]}"}
    known_key "$key" || fail "$props:$lineno: '$key' is not a configuration key of $TW_BIN (config --doc) nor a kafka.* property"
done <"$props"
# Every key is shown, set or commented out (as `key =` or `key_file =`).
while IFS= read -r key; do
    re="^#?[[:space:]]*${key//./\\.}(_file)?[[:space:]]*="
    grep -Eq "$re" "$props" || fail "$props does not mention '$key' (add it, commented out if the default is right)"
done <"$work/keys"
# The agent accepts it as written, and with the commented-out kafka.* example
# enabled; files it names (secrets) are replaced by a stand-in.
sed -E 's#^([a-z0-9_.]+_file)[[:space:]]*=.*#\1 = '"$work/secret"'#' "$props" >"$work/as-is.properties"
sed -E 's/^#(kafka\.)/\1/; s#^([a-z0-9_.]+_file)[[:space:]]*=.*#\1 = '"$work/secret"'#' "$props" >"$work/kafka.properties"
for variant in as-is kafka; do
    if ! out=$("$TW_BIN" config --show --config "$work/$variant.properties" 2>&1); then
        fail "the agent rejects $props ($variant; secret files replaced by a stand-in):
$out"
    fi
done
note "c. $props: known keys, every key covered, accepted by the agent"

# ---------------------------------------------------------------------------
# d. Dockerfile packages.
# ---------------------------------------------------------------------------
dockerfile=$DEPLOY/Dockerfile
[ -f "$dockerfile" ] || fail "$dockerfile is missing"
# stage_packages N: the apt-get install arguments of the Nth FROM stage
# (1-based), one per line.
stage_packages() {
    awk -v want="$1" '
        /^[[:space:]]*#/ { next }
        { line = (cont ? line " " : "") $0 }
        /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, "", line); cont = 1; next }
        { cont = 0 }
        toupper(line) ~ /^[[:space:]]*FROM[[:space:]]/ { stage++ }
        stage == want && toupper(line) ~ /^[[:space:]]*RUN[[:space:]]/ {
            n = split(line, w, /[[:space:]]+/)
            inst = 0
            for (i = 1; i <= n; i++) {
                if (w[i] == "&&" || w[i] == ";" || w[i] == "||") { inst = 0; continue }
                if (inst && w[i] !~ /^-/ && w[i] != "") print w[i]
                if (w[i] == "install" && i > 1 && w[i-1] ~ /apt(-get)?$/) inst = 1
                else if (w[i] == "install" && i > 2 && w[i-2] ~ /apt(-get)?$/) inst = 1
            }
        }
        { line = "" }' "$dockerfile"
}
stages=$(grep -Eci '^[[:space:]]*FROM[[:space:]]' "$dockerfile")
[ "$stages" -ge 2 ] || fail "$dockerfile: expected a build and a runtime stage, found $stages FROM lines"
grep -Eqi '^[[:space:]]*FROM[[:space:]]+debian:bookworm-slim' "$dockerfile" ||
    fail "$dockerfile: the runtime stage is not debian:bookworm-slim"
mapfile -t runtime_pkgs < <(stage_packages "$stages")
mapfile -t build_pkgs < <(stage_packages 1)
[ "${#runtime_pkgs[@]}" -gt 0 ] || fail "$dockerfile: found no apt-get install in the runtime stage"
[ "${#build_pkgs[@]}" -gt 0 ] || fail "$dockerfile: found no apt-get install in the build stage"

codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null || true)
if [ "$codename" != bookworm ]; then
    note "d. SKIP: this machine is '${codename:-unknown}', not Debian bookworm: apt-cache cannot answer for bookworm"
else
    for pkg in "${runtime_pkgs[@]}" "${build_pkgs[@]}"; do
        candidate=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^[[:space:]]*Candidate:[[:space:]]*//p')
        if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
            fail "$dockerfile: package '$pkg' has no candidate in bookworm (apt-cache policy $pkg; run apt-get update if the lists are empty)"
        fi
    done
    note "d. ${#runtime_pkgs[@]} runtime + ${#build_pkgs[@]} build packages exist in bookworm: ${runtime_pkgs[*]}"

    # Every shared library the binary links comes from a runtime package.
    command -v objdump >/dev/null || fail "objdump not found (apt-get install binutils)"
    ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
    while IFS= read -r lib; do
        case "$lib" in
        libc.so.* | libm.so.* | ld-linux* | libasan.so.* | libubsan.so.* | liblsan.so.* | libtsan.so.*) continue ;;
        esac
        # (awk reads all of its input: an early exit would SIGPIPE ldconfig.)
        path=$("$ldconfig" -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
        [ -n "$path" ] || fail "$TW_BIN links $lib, which $ldconfig -p does not list"
        owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null) ||
            fail "no Debian package owns $path ($lib, linked by $TW_BIN)"
        pkg=${owner%%:*}
        printf '%s\n' "${runtime_pkgs[@]}" | grep -xF -- "$pkg" >/dev/null ||
            fail "$TW_BIN links $lib from package $pkg, which the runtime stage of $dockerfile does not install"
    done < <(objdump -p "$TW_BIN" | awk '$1 == "NEEDED" { print $2 }')
    note "d. the runtime stage installs every library $TW_BIN links"
fi

# ---------------------------------------------------------------------------
# e. Prometheus rules, against the metrics the binary really exports.
# ---------------------------------------------------------------------------
command -v promtool >/dev/null || fail "promtool not found (apt-get install prometheus)"
out=$(promtool check rules "$DEPLOY/prometheus/alerts.yaml" 2>&1) ||
    fail "promtool check rules deploy/prometheus/alerts.yaml:
$out"
if [ -f "$DEPLOY/prometheus/alerts_test.yaml" ]; then
    out=$(cd "$DEPLOY/prometheus" && promtool test rules alerts_test.yaml 2>&1) ||
        fail "promtool test rules deploy/prometheus/alerts_test.yaml:
$out"
fi
note "e. alerts.yaml: $(promtool --version 2>&1 | awk 'NR == 1 { print $1, $2, $3 }') check rules and test rules pass"

# Start the agent against servers that refuse connections (nothing listens
# on port 1): it serves its HTTP endpoint while it retries. Then: every
# metric (and label value) the rules select exists, every path the probes and
# the PodMonitor use answers (not 404), and `tidewater healthcheck`, the
# image's HEALTHCHECK, passes.
port=$("$TW_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -i PATH="$PATH" \
    TIDEWATER_SOURCE_CONNINFO="host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1" \
    TIDEWATER_SOURCE_PUBLICATION=x TIDEWATER_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1 \
    TIDEWATER_HTTP_LISTEN="127.0.0.1:$port" "$TW_BIN" run >"$work/agent.log" 2>&1 &
agent_pid=$!
"$TW_PYTHON" - "$port" "$DEPLOY/prometheus/alerts.yaml" "$work/http_paths" <<'PY' ||
import re
import sys
import time
import urllib.error
import urllib.request

import yaml

port, rules_path, paths_path = sys.argv[1:]
base = f"http://127.0.0.1:{port}"

def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

deadline = time.monotonic() + 15
while True:
    try:
        status, text = get("/metrics")
        break
    except OSError as e:
        if time.monotonic() > deadline:
            sys.exit(f"the agent's /metrics did not answer on port {port} within 15 s: {e}")
        time.sleep(0.2)
if status != 200:
    sys.exit(f"/metrics answered {status}")

samples = []  # (name, {label: value})
for line in text.splitlines():
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
    if m and not line.startswith("#"):
        samples.append((m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))))
names = {n for n, _ in samples}
# Families the agent declares (# TYPE) but has no series of yet: the per-table
# ones (tidewater_schema_changes_total, tidewater_schema_paused) before a
# table is seen.
declared = set(re.findall(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", text, re.M))

errors = []
with open(rules_path, encoding="utf-8") as f:
    rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
for r in rules:
    for name, _, matchers in re.findall(r"\b(tidewater_[a-z0-9_]+)(\{([^}]*)\})?", r["expr"]):
        if name not in names:
            if name not in declared:
                errors.append(f"{r.get('alert')}: metric {name} is not exported by the agent")
            continue
        for label, value in re.findall(r'(\w+)\s*=\s*"([^"]*)"', matchers):
            if not any(n == name and l.get(label) == value for n, l in samples):
                errors.append(f"{r.get('alert')}: no {name} series has {label}=\"{value}\"")
with open(paths_path, encoding="utf-8") as f:
    for path in f.read().split():
        status, _ = get(path)
        if status == 404:
            errors.append(f"{path} (a probe or PodMonitor path in deploy/kubernetes) answers 404")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
    fail "the rules or manifests do not match the agent's HTTP endpoint (above; agent log: $(tail -n 5 "$work/agent.log"))"
TIDEWATER_HTTP_LISTEN="127.0.0.1:$port" "$TW_BIN" healthcheck >"$work/healthcheck.log" 2>&1 ||
    fail "'tidewater healthcheck' (the image's HEALTHCHECK) fails against a running agent: $(cat "$work/healthcheck.log")"
# (Grouped, so that bash's "Killed" notice goes to /dev/null too.)
{ kill -KILL "$agent_pid" && wait "$agent_pid"; } 2>/dev/null || true
agent_pid=""
if TIDEWATER_HTTP_LISTEN="127.0.0.1:$port" "$TW_BIN" healthcheck >/dev/null 2>&1; then
    fail "'tidewater healthcheck' passes with no agent running"
fi
note "e. the rules' metrics, the probe paths and 'tidewater healthcheck' match the running agent"

# ---------------------------------------------------------------------------
# f. systemd unit.
# ---------------------------------------------------------------------------
unit=$DEPLOY/systemd/tidewater.service
[ -f "$unit" ] || fail "$unit is missing"
for want in \
    'User=tidewater' \
    'EnvironmentFile=-/etc/tidewater/env' \
    'ExecStart=/usr/local/bin/tidewater run --config /etc/tidewater/tidewater.properties' \
    'Restart=on-failure' \
    'NoNewPrivileges=yes' \
    'ProtectSystem=strict' \
    'ProtectHome=yes' \
    'PrivateTmp=yes'; do
    grep -qxF -- "$want" "$unit" || fail "$unit: missing the line '$want'"
done
# Long enough for the 30 s flush on SIGTERM, plus the final status update.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$unit")
if [ -z "$stop" ] || [ "$stop" -lt 40 ]; then
    fail "$unit: TimeoutStopSec must be at least 40s (in seconds), got '${stop:-none}'"
fi

if command -v systemd-analyze >/dev/null; then
    # verify insists that ExecStart's binary exists: check a copy that runs
    # the binary under test.
    mkdir -p "$work/unit"
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
        ExecStart=/usr/local/bin/tidewater\ *) line="ExecStart=$TW_BIN ${line#ExecStart=/usr/local/bin/tidewater }" ;;
        esac
        printf '%s\n' "$line"
    done <"$unit" >"$work/unit/tidewater.service"
    # Does verify work here at all (it needs no running systemd, but be sure)?
    printf '[Service]\nExecStart=%s version\n' "$TW_BIN" >"$work/unit/probe.service"
    if systemd-analyze verify --man=no "$work/unit/probe.service" >/dev/null 2>&1; then
        out=$(systemd-analyze verify --man=no "$work/unit/tidewater.service" 2>&1) ||
            fail "systemd-analyze verify $unit:
$out"
        # Unknown keys and bad values are only warnings to verify: fail on any.
        [ -z "$out" ] || fail "systemd-analyze verify $unit warns:
$out"
        note "f. $unit: required keys present, systemd-analyze verify clean"
    else
        note "f. $unit: required keys present (systemd-analyze verify does not work on this machine)"
    fi
else
    note "f. $unit: required keys present (no systemd-analyze here)"
fi

note "OK"
