# mandi: `make run` starts everything in one process; `make test` runs the whole suite.
SHELL := bash
.DEFAULT_GOAL := help

CARGO ?= cargo
BUF := tools/node_modules/.bin/buf
GRPCURL := tools/bin/grpcurl
LISTEN ?= 127.0.0.1:50051
ADMIN_LISTEN ?= 127.0.0.1:9090
GATEWAY_LISTEN ?= 127.0.0.1:8080
# Where `make bench` leaves its outputs (the mesh run's mesh.json among them).
BENCH_OUT ?= $(or $(CARGO_TARGET_DIR),target)/bench
# Tests talk to these real servers; `make up` starts them.
export MANDI_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export MANDI_TEST_REDIS_URL ?= redis://127.0.0.1:6379
# CongoDB answers awaitable `hello`s at once, so the driver's streaming monitor would spin;
# poll every heartbeat instead (see scripts/ensure-mongo.sh).
export MANDI_TEST_KAFKA_BROKERS ?= 127.0.0.1:9092
export MANDI_TEST_MONGO_URL ?= mongodb://127.0.0.1:27017/?directConnection=true&serverMonitoringMode=poll

.PHONY: help tools up down build web run test test-faults lint bench clean-test-dbs

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

tools: ## Install buf and grpcurl into tools/ (pinned, idempotent)
	@scripts/install-tools.sh

up: ## Start the real servers the tests use (PostgreSQL, Redis, MongoDB wire, Kafka API)
	@scripts/ensure-postgres.sh
	@scripts/ensure-redis.sh
	@scripts/ensure-mongo.sh
	@scripts/ensure-kafka.sh

down: ## Nothing to stop: the servers belong to the machine, tests clean up their databases
	@scripts/reset-test-databases.sh

build: ## Build every crate
	$(CARGO) build --workspace --all-targets

web: tools ## Build the TypeScript SDK (sdk/ts) and the storefront (web/dist)
	@scripts/build-web.sh

run: web ## Run the whole mesh in one process, in memory (no servers needed)
	$(CARGO) build -p mandi-server
	@echo "mandi: the shop on http://$(GATEWAY_LISTEN) (the gateway: storefront, grpc-web, gRPC)"
	@echo "  gRPC and grpc-web straight to the services on $(LISTEN), metrics on http://$(ADMIN_LISTEN)/metrics"
	@echo "  try: $(GRPCURL) -plaintext $(LISTEN) list   (after make tools)"
	$(CARGO) run -q -p mandi-server -- --target=all --listen=$(LISTEN) --admin-listen=$(ADMIN_LISTEN) --gateway-listen=$(GATEWAY_LISTEN)

test: tools up ## Run the whole suite against the real servers
	@scripts/reset-test-databases.sh
	$(CARGO) build -p mandi-server
	$(CARGO) build -p mandi-sdk --examples
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc
	@$(MAKE) --no-print-directory test-faults
	@# The storefront in Debian's Chromium against the built mandi-server (see web/e2e).
	@scripts/ensure-chromium.sh
	@scripts/build-web.sh
	cd web && CARGO_TARGET_DIR="$${CARGO_TARGET_DIR:-$(CURDIR)/target}" node --test --test-concurrency=1 e2e/

test-faults: tools up ## The fault suite: concurrent checkouts (MANDI_FAULTS_CHECKOUTS, default 500) while services are killed and Kafka, PostgreSQL and Redis are cut; checks nothing is lost
	$(CARGO) build -p mandi-server
	$(CARGO) test -p mandi-e2e --test faults_e2e -- --ignored --nocapture

lint: tools ## buf lint + breaking against main, rustfmt, clippy, k8s/ and istio/ validated offline
	$(BUF) lint
	@if git rev-parse --verify -q main >/dev/null && git ls-tree -d main proto >/dev/null 2>&1 && [ -n "$$(git ls-tree main proto)" ]; then \
	  $(BUF) breaking --against '.git#branch=main'; \
	else echo "buf breaking: main has no protos yet, nothing to compare"; fi
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@scripts/validate-deploy.sh

bench: ## Benchmarks (identity tokens, catalog reads and search, inventory reservations, cart reads, order creations, events through Kafka, checkouts, calls through the gateway), each against a baseline in the same run, then the mesh run's one table
	$(CARGO) bench -p mandi-identity --bench tokens
	$(CARGO) bench -p mandi-catalog --bench catalog
	$(CARGO) bench -p mandi-inventory --bench reservations
	$(CARGO) bench -p mandi-cart --bench cart
	$(CARGO) bench -p mandi-order --bench orders
	$(CARGO) bench -p mandi-kafka --bench events
	$(CARGO) build --release -p mandi-server
	@mkdir -p $(BENCH_OUT) && rm -f $(BENCH_OUT)/checkouts.txt $(BENCH_OUT)/gateway.txt
	@# The mesh run's table gathers these two figures from their outputs.
	set -o pipefail; $(CARGO) bench -p mandi-checkout --bench checkouts | tee $(BENCH_OUT)/checkouts.txt
	set -o pipefail; $(CARGO) bench -p mandi-gateway --bench gateway | tee $(BENCH_OUT)/gateway.txt
	@# One process per service on the real servers: echo vs catalog, gateway vs direct,
	@# checkouts vs pgbench, start to SERVING and RSS idle and under mandi-loadgen's load.
	MANDI_BENCH_OUT=$(BENCH_OUT) $(CARGO) bench -p mandi-loadgen --bench mesh
