#!/usr/bin/env bash
# Resolves a real Confluent-compatible Schema Registry for the integration
# tests: Apicurio Registry (its /apis/ccompat/v7 API), pinned, from Maven
# Central, unpacked into a cache folder. 3.0.9 is the newest release that
# runs on Java 17 (3.3.x needs Java 21). Prints the runner jar's path.
set -euo pipefail
version=3.0.9
home="${TEST_APICURIO_HOME:-$HOME/.cache/sfconnect/apicurio-$version}"
jar="$home/apicurio-registry-app-$version-runner.jar"
if [ ! -f "$jar" ]; then
  mkdir -p "$home"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mvn -B -q -Dstyle.color=never dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$version:tar.gz:all" -DoutputDirectory="$tmp" >&2
  tar -xzf "$tmp"/apicurio-registry-app-*.tar.gz -C "$tmp"
  found=$(find "$tmp" -name "apicurio-registry-app-$version-runner.jar" | head -1)
  [ -n "$found" ] || { echo "schema-registry/install: no runner jar in the archive" >&2; exit 1; }
  cp -r "$(dirname "$found")"/. "$home"/
fi
echo "$jar"
