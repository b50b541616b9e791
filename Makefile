# orgstream: `make` lists the targets.

GO          ?= go
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
DATA_DIR    ?= ./data

# staticcheck, pinned; run through `go run` so nothing is installed globally.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Fuzzing: `make fuzz` runs every Fuzz target for FUZZTIME; `make test` ends
# with a short pass of SHORT_FUZZTIME per target, shortened so that the whole
# pass stays within FUZZ_BUDGET seconds of fuzzing (at least 1s per target).
FUZZTIME       ?= 60s
SHORT_FUZZTIME ?= 5
FUZZ_BUDGET    ?= 60

BENCHTIME ?= 100ms

# make soak: how long the nemesis campaign publishes and injects faults
# (a Go duration); `make test` runs a 90-second one (e2e TestSoak).
SOAK ?= 10m

# make test-cluster-long: how many leader kills in a row.
CLUSTER_ROUNDS ?= 3

NPM       ?= npm
NPM_CI    := $(NPM) ci --no-audit --no-fund
CHROMIUM  ?= /usr/bin/chromium

# Built only once its source exists.
BENCH_CMD := $(wildcard cmd/orgstream-bench/*.go)

# fuzz-targets prints "<package dir> <FuzzName>" for every fuzz target in the
# tree, so new ones are picked up without editing this file.
FUZZ_TARGETS = grep -rE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata \
	--exclude-dir=bin --exclude-dir=data --exclude-dir=vendor --exclude-dir=node_modules -o '^func Fuzz[A-Za-z0-9_]*' . \
	| sed -E 's|^(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]*)$$|\1 \2|' | sort -u

# FUZZ_ONE runs the fuzz target $$name of package $$dir for $(1). Go 1.26's
# fuzz coordinator can end a run that found nothing with a bare "context
# deadline exceeded" when -fuzztime expires on a loaded machine
# (golang/go#75804, fixed in Go 1.27): such a run, and only such a run (no
# "Failing input", no panic, no test failure), is tried once more.
FUZZ_ONE = out=$$($(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(1) "$$dir" 2>&1); rc=$$?; echo "$$out"; \
	if [ $$rc -ne 0 ] && echo "$$out" | grep -q 'context deadline exceeded' && \
		! echo "$$out" | grep -qE 'Failing input|panic:|_test\.go:[0-9]+:'; then \
		echo "fuzz $$dir $$name: the Go 1.26 fuzztime deadline race (golang/go issue 75804), no failing input: once more"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(1) "$$dir"; \
	else [ $$rc -eq 0 ]; fi

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets (this text)
	@echo "orgstream make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: FUZZTIME=$(FUZZTIME) BENCHTIME=$(BENCHTIME) DATA_DIR=$(DATA_DIR) VERSION=$(VERSION)"

.PHONY: deps
deps: ## download the Go modules
	$(GO) mod download

.PHONY: build
build: deps ## build bin/orgstream (and bin/orgstream-bench once cmd/orgstream-bench exists)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/orgstream ./cmd/orgstream
ifneq ($(BENCH_CMD),)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/orgstream-bench ./cmd/orgstream-bench
endif

.PHONY: run
run: build ## build, then run the daemon on ./data (DATA_DIR) with --dev; console at http://127.0.0.1:8080/
	./bin/orgstream serve --dev --data-dir $(DATA_DIR)

.PHONY: test
test: test-go test-js test-browser ## every test: Go (race + short fuzz), the TypeScript client, the console in Chromium

.PHONY: test-go
test-go: deps ## Go tests with -race, then a short fuzz pass of every Fuzz target
	$(GO) test -race -shuffle=on -timeout 12m ./...
	@targets="$$($(FUZZ_TARGETS))"; \
	n=$$(printf '%s\n' "$$targets" | grep -c . || true); \
	[ "$$n" -gt 0 ] || { echo "no fuzz targets"; exit 0; }; \
	t=$$(( $(FUZZ_BUDGET) / n )); \
	[ "$$t" -le $(SHORT_FUZZTIME) ] || t=$(SHORT_FUZZTIME); \
	[ "$$t" -ge 1 ] || t=1; \
	echo "short fuzz pass: $$n targets, $${t}s each"; \
	printf '%s\n' "$$targets" | while read -r dir name; do \
		echo "fuzz $$dir $$name"; \
		$(call FUZZ_ONE,$${t}s) || exit 1; \
	done

# node-deps installs Debian's nodejs and npm when node or npm is missing (as
# test-browser installs chromium): `make test` needs nothing installed first.
.PHONY: node-deps
node-deps:
	@{ command -v node && command -v $(NPM); } >/dev/null || { \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "node-deps: installing nodejs and npm (apt-get)"; \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; \
	}

.PHONY: test-js
test-js: node-deps ## the TypeScript client's tests (clients/js: npm ci, npm test; the npm pack consumer test included)
	cd clients/js && $(NPM_CI) && $(NPM) test

.PHONY: test-browser
test-browser: build console-check ## the console in headless Chromium against bin/orgstream (installs chromium if missing)
	@command -v $(CHROMIUM) >/dev/null || { \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		echo "test-browser: installing chromium"; \
		$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	}
	cd clients/console && CHROMIUM_BIN=$(CHROMIUM) ORGSTREAM_BIN=$(CURDIR)/bin/orgstream $(NPM) run test:e2e

.PHONY: console-deps
console-deps: node-deps
	cd clients/console && $(NPM_CI)

.PHONY: console
console: console-deps ## rebuild the console page into transport/console/dist (commit the result)
	cd clients/console && $(NPM) run build

.PHONY: console-check
console-check: console-deps ## typecheck the console and check that the committed dist is its current build
	cd clients/console && $(NPM) run check

.PHONY: release
release: deps ## reproducible static binaries for linux/amd64, linux/arm64, darwin/arm64: tarballs, CycloneDX SBOMs, SHA256SUMS in dist/
	./scripts/release.sh

.PHONY: release-verify
release-verify: deps ## build the release twice (dist/ and a temporary copy) and check that the checksums match
	./scripts/release-verify.sh

.PHONY: check-go-install
check-go-install: ## go install of cmd/orgstream from a clean GOPATH (deps from the module proxy), against this tree via replace
	./scripts/check-go-install.sh

.PHONY: test-cluster-long
test-cluster-long: deps ## the long cluster tests: CLUSTER_ROUNDS (default 3) kill -9 of the stream leader in a row, then a restart each
	ORGSTREAM_CLUSTER_ROUNDS=$(CLUSTER_ROUNDS) $(GO) test -race -count=1 -timeout 20m -run 'TestCluster' -v ./e2e/

.PHONY: soak
soak: build ## the nemesis campaign on a 3-node cluster for SOAK (default 10m): kill -9, SIGSTOP, cluster restarts, partitions, a full disk; report in bench-results/
	./bin/orgstream-bench soak --duration $(SOAK) $(SOAK_ARGS)

.PHONY: cluster
cluster: build ## a local 3-node cluster on loopback (HTTP :8081-8083, data in data/cluster); Ctrl-C stops it
	./deploy/local/cluster.sh $(CLUSTER_ARGS)

.PHONY: fuzz
fuzz: deps ## fuzz every Fuzz target for FUZZTIME each (default 60s)
	@$(FUZZ_TARGETS) | while read -r dir name; do \
		echo "fuzz $$dir $$name for $(FUZZTIME)"; \
		$(call FUZZ_ONE,$(FUZZTIME)) || exit 1; \
	done

.PHONY: lint
lint: deps ## go vet, staticcheck (pinned) and a gofmt check
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*' -not -path './data/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (make fmt):"; echo "$$out"; exit 1; fi

.PHONY: bench
bench: build ## Go micro-benchmarks (BENCHTIME each), then the short harness suite (about 2 min)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...
	./bin/orgstream-bench suite --short

.PHONY: bench-cluster
bench-cluster: build ## fan-out on 1 daemon, then on a 3-node cluster, same sizes, side by side (about 1 min)
	./bin/orgstream-bench cluster-compare --nodes 3 --conns 3000 --orgs 10 --rate 500 --size 256 --duration 20s

.PHONY: bench-publish
bench-publish: build ## durable publish against raw JetStream in the same run (a standalone nats-server 2.15.2, R1 file store): the issue's ratio rows; PUBLISH_ARGS=--natscli adds natscli's nats bench as a cross-check (about 1 min)
	./bin/orgstream-bench publish --duration 5s $(PUBLISH_ARGS)

.PHONY: bench-large
bench-large: build ## 1 GiB of the largest events into one org, 10 readers: the daemon's RSS growth (LARGE_TOTAL bytes, default 1 GiB; about 1 min)
	./bin/orgstream-bench large-events --total $(or $(LARGE_TOTAL),1073741824)

.PHONY: bench-floor
bench-floor: build ## the loopback write floor (no daemon): a delivery's frame written to 1,000, then 6,000 sockets in turn, writer CPU per write (about 30 s)
	./bin/orgstream-bench floor --conns 1000
	./bin/orgstream-bench floor --conns 6000

.PHONY: bench-knee
bench-knee: build ## the knee, orgstream and Centrifugo alternately at each rate, 10k conns x 10 orgs x 256 B, after the floor (needs centrifugo: go install github.com/centrifugal/centrifugo/v6@v6.9.1; KNEE_DAEMON=old=PATH,new=PATH compares two binaries; long: about 10 min)
	./bin/orgstream-bench knee --conns 10000 --orgs 10 --size 256 --duration 10s --rates $(or $(KNEE_RATES),25000,50000,75000,100000,150000,200000) --daemon $(or $(KNEE_DAEMON),./bin/orgstream)

.PHONY: bench-idle-orgs
bench-idle-orgs: build ## 6,000 idle connections, each alone in its org: RSS and heap in use per connection (about 1 min)
	./bin/orgstream-bench idle --conns 6000 --orgs 6000

.PHONY: bench-full
bench-full: build ## the harness at the issue's sizes: 19k idle, 10k fanout, 10k resume storm (long)
	./bin/orgstream-bench suite

.PHONY: fmt
fmt: ## format the Go sources (gofmt -w)
	gofmt -w $$(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*' -not -path './data/*')

.PHONY: clean
clean: ## remove bin/ (keeps ./data: rm -rf it to wipe the store)
	rm -rf bin/
