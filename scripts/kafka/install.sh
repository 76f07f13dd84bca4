#!/usr/bin/env bash
# Resolve a single-node Apache Kafka broker (jars only) from Maven Central into
# a cache folder, using the throwaway scripts/kafka/pom.xml.
#
#   scripts/kafka/install.sh            # prints the cache folder on stdout
#
# Env:
#   TEST_KAFKA_HOME   cache folder (default $HOME/.cache/sfconnect/kafka-<version>);
#                          the jars go to $TEST_KAFKA_HOME/libs
#
# Idempotent: once $TEST_KAFKA_HOME/.resolved exists it does nothing.
# Only stdout line: the cache folder. Progress goes to stderr.
set -euo pipefail

# Keep in step with <kafka.version> in pom.xml.
KAFKA_VERSION=4.4.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${TEST_KAFKA_HOME:-${HOME}/.cache/sfconnect/kafka-${KAFKA_VERSION}}"
libs="${home}/libs"
marker="${home}/.resolved"

log() { printf 'kafka/install: %s\n' "$*" >&2; }

pom_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "${here}/pom.xml")"
if [[ "${pom_version}" != "${KAFKA_VERSION}" ]]; then
  log "version mismatch: install.sh has ${KAFKA_VERSION}, pom.xml has ${pom_version}"
  exit 1
fi

if [[ -f "${marker}" ]] && [[ "$(head -n1 "${marker}")" == "kafka ${KAFKA_VERSION}" ]] \
  && compgen -G "${libs}/kafka_2.13-${KAFKA_VERSION}.jar" >/dev/null; then
  log "already resolved: ${libs}"
  printf '%s\n' "${home}"
  exit 0
fi

for tool in mvn java; do
  command -v "${tool}" >/dev/null || { log "${tool} not found on PATH"; exit 1; }
done

mkdir -p "${home}"
# Resolve into a scratch folder, then swap it in, so a half-finished run never
# looks resolved.
tmp="$(mktemp -d "${home}/libs.tmp.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

log "resolving org.apache.kafka:kafka_2.13:${KAFKA_VERSION} and its runtime dependencies from Maven Central"
start=$(date +%s)
# -B: batch mode (no colours/progress); output goes to stderr so stdout stays clean.
# Maven 3.8 prints stray colour codes even in batch mode; strip them.
if ! mvn -B -q -Dstyle.color=never -f "${here}/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="${tmp}" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
  log "mvn dependency:copy-dependencies failed"
  exit 1
fi
if ! compgen -G "${tmp}/kafka_2.13-${KAFKA_VERSION}.jar" >/dev/null; then
  log "kafka_2.13-${KAFKA_VERSION}.jar missing after resolution"
  exit 1
fi

rm -rf "${libs}"
mv "${tmp}" "${libs}"
trap - EXIT
{
  echo "kafka ${KAFKA_VERSION}"
  date -u +%Y-%m-%dT%H:%M:%SZ
  find "${libs}" -name '*.jar' -printf '%f\n' | sort
} >"${marker}"
log "resolved $(find "${libs}" -name '*.jar' | wc -l) jars in $(( $(date +%s) - start ))s into ${libs}"
printf '%s\n' "${home}"
