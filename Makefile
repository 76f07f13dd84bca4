# sfconnect developer targets. `make test` is what CI runs.
GO ?= go
BIN := $(CURDIR)/bin
# Pinned tool versions.
STATICCHECK_VERSION := v0.8.2
GOTESTSUM_VERSION := v1.13.0

.PHONY: build test test-unit bench lint fmt generate check-generated install-tools kafka-install node-install demo dev sim

build:
	$(GO) build -o $(BIN)/sfconnect ./cmd/sfconnect

install-tools:
	@test -x $(BIN)/staticcheck || GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@test -x $(BIN)/gotestsum || GOBIN=$(BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

kafka-install:
	bash scripts/kafka/install.sh

# The real Salesforce clients sfsim is checked against, the Cosmos DB
# stand-in (patched by test/cosmos/patch.js, idempotently) and playwright-core
# for the browser test, from lockfiles.
node-install:
	@test -d test/node/node_modules || npm ci --prefix test/node --no-audit --no-fund
	@test -d test/cosmos/node_modules || npm ci --prefix test/cosmos --no-audit --no-fund
	@test -d test/browser/node_modules || npm ci --prefix test/browser --no-audit --no-fund
	@node test/cosmos/patch.js

# Everything: race-enabled unit tests and the integration suites, against
# kfake and against a real Apache Kafka broker started and stopped here.
test: install-tools kafka-install node-install
	bash scripts/test.sh

# The fast inner loop: fakes only (kfake), no real broker.
test-unit:
	$(GO) test -race -count=1 ./...

# Benchmarks, with the real Kafka broker (scripts/bench.sh); BENCH=regexp
# selects, BENCHTIME=3x repeats.
bench: kafka-install node-install
	bash scripts/bench.sh

lint: install-tools
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w .

generate:
	$(GO) run ./cmd/sfconnect env > docs/configuration.md
	bash scripts/gen-proto.sh

check-generated: generate
	git diff --exit-code -- docs/configuration.md salesforce/pubsub/pubsubpb

# The whole bidirectional loop in one process, with its live page: installs
# the pinned Cosmos DB stand-in, builds, runs `sfconnect dev` (which prints
# the page URL); Ctrl-C stops it and every child it started. DEMO_FLAGS
# passes options, e.g. DEMO_FLAGS='-http 127.0.0.1:9090 -generate 5'.
demo: node-install build
	exec $(BIN)/sfconnect dev $(DEMO_FLAGS)

dev: demo

# The simulated Salesforce org on its default ports (Ctrl-C stops it).
sim:
	$(GO) run ./cmd/sfconnect sim
