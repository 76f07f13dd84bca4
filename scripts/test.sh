#!/usr/bin/env bash
# Runs every test suite: unit tests with the race detector and the
# integration suites, against kfake and a real Apache Kafka broker that this
# script starts on 127.0.0.1 and stops by PID. A broker that cannot start
# fails the run (TEST_KAFKA_REQUIRED=1), and so do missing Node clients
# (TEST_NODE_REQUIRED=1), a Cosmos DB stand-in that cannot start
# (TEST_COSMOS_REQUIRED=1), a missing Schema Registry (Apicurio, resolved
# with Maven; TEST_SCHEMA_REGISTRY_REQUIRED=1) and a missing Chromium or
# playwright-core for the dev page's browser test (TEST_BROWSER_REQUIRED=1):
# nothing is skipped silently. The browser test's screenshot is written to
# artifacts/demo.png.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_APICURIO_JAR=$(bash scripts/schema-registry/install.sh | tail -n 1)
export TEST_APICURIO_JAR TEST_SCHEMA_REGISTRY_REQUIRED=1

broker_env=$(bash scripts/kafka/start.sh)
eval "$broker_env"
cleanup() { bash scripts/kafka/stop.sh "$TEST_KAFKA_RUN_DIR" || true; }
trap cleanup EXIT
export TEST_KAFKA_BROKERS TEST_KAFKA_REQUIRED=1 TEST_NODE_REQUIRED=1 TEST_COSMOS_REQUIRED=1 TEST_BROWSER_REQUIRED=1
mkdir -p artifacts

./bin/gotestsum --format pkgname-and-test-fails --jsonfile "${TEST_JSON:-/tmp/sfconnect-test.json}" -- \
  -race -count=1 -timeout 15m ./...
