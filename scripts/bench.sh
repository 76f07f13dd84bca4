#!/usr/bin/env bash
# Runs the benchmarks with a real Apache Kafka broker on 127.0.0.1 (started
# here and stopped by PID), so broker-bound benchmarks measure the real
# thing. Throughput is reported as a ratio to a baseline measured in the
# same run; absolute figures on shared machines are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."

broker_env=$(bash scripts/kafka/start.sh)
eval "$broker_env"
cleanup() { bash scripts/kafka/stop.sh "$TEST_KAFKA_RUN_DIR" || true; }
trap cleanup EXIT
export TEST_KAFKA_BROKERS

go test -run '^$' -bench "${BENCH:-.}" -benchmem -benchtime "${BENCHTIME:-1x}" -timeout 30m ./...
