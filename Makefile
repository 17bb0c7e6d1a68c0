# Rainflow: `make run` starts the whole platform on its embedded defaults; `make test` runs every tier.
SHELL := /bin/bash
.DEFAULT_GOAL := build

STATE    ?= $(CURDIR)/.rainflow
BIN      := $(STATE)/bin
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/component-base/version.buildDate=2026-01-01T00:00:00Z \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION)

KUBE_BINS  := kube-apiserver kube-controller-manager kube-scheduler kubelet
TOOL_BINS  := $(addprefix $(BIN)/,temporal etcd kwok registry buildkitd $(KUBE_BINS))

.PHONY: build tools deps run test test-unit test-integration vet fmt bench bench-deploy bench-orchestration bench-kwok clean-state fuzz bench-api bench-collector bench-gateway bench-build

## build: the rainflow binary
build: $(BIN)/rainflow

$(BIN)/rainflow: FORCE
	@mkdir -p $(BIN)
	$(GO) build -ldflags "-X github.com/rainflow/rainflow/contract.Version=$(VERSION)" -o $@ ./cmd/rainflow

FORCE:

## deps: Debian packages of the local stack (containerd, runc, CNI plugins, MariaDB, busybox-static)
deps:
	@./scripts/install-deps.sh

## tools: the pinned binaries, each built once from its own module in tools/ (Go build cache reused)
tools: $(TOOL_BINS) $(STATE)/kwok-stages.yaml

$(BIN)/temporal: tools/temporal/go.mod tools/temporal/go.sum
	cd tools/temporal && $(GO) build -ldflags "-s -w" -o $@ github.com/temporalio/cli/cmd/temporal
$(BIN)/etcd: tools/etcd/go.mod tools/etcd/go.sum
	cd tools/etcd && $(GO) build -ldflags "-s -w" -o $@ go.etcd.io/etcd/server/v3
$(BIN)/kwok: tools/kwok/go.mod tools/kwok/go.sum
	cd tools/kwok && $(GO) build -ldflags "-s -w" -o $@ sigs.k8s.io/kwok/cmd/kwok
$(BIN)/registry: tools/registry/go.mod tools/registry/go.sum
	cd tools/registry && $(GO) build -ldflags "-s -w" -o $@ github.com/distribution/distribution/v3/cmd/registry
$(BIN)/buildkitd: tools/buildkit/go.mod tools/buildkit/go.sum
	cd tools/buildkit && $(GO) build -ldflags "-s -w" -o $@ github.com/moby/buildkit/cmd/buildkitd
$(addprefix $(BIN)/,$(KUBE_BINS)): $(BIN)/%: tools/kube/go.mod tools/kube/go.sum
	cd tools/kube && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/$*

# kwok exits with "no stages found" without stage files; they ship in its module
$(STATE)/kwok-stages.yaml: tools/kwok/go.mod
	@mkdir -p $(STATE)
	cd tools/kwok && d=$$($(GO) list -m -f '{{.Dir}}' sigs.k8s.io/kwok) && \
	  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
	           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do \
	    echo "---"; cat "$$d/kustomize/stage/$$f"; done > $@.tmp && mv $@.tmp $@

## run: the whole platform on its embedded defaults (Ctrl-C stops everything it started)
run: deps tools build
	$(BIN)/rainflow dev --state $(STATE)

## test: every tier but benchmarks: unit and replay tests, then the integration and end-to-end tests
## against the real stack (Temporal dev server, local Kubernetes with a real node, registry, MariaDB)
test: deps tools vet test-unit fuzz test-integration

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /tests)

# one real node per machine: integration runs of several checkouts wait for each other
STACK_LOCK ?= /tmp/rainflow-stack.lock
test-integration:
	flock $(STACK_LOCK) $(GO) test -count=1 -timeout 50m -v ./tests/... 2>&1 | tee $(STATE)/test-integration.log | grep -E '^(--- |PASS$$|FAIL|ok\s|tests:)|^\s+--- FAIL|_test\.go:[0-9]+|Error:' ; exit $${PIPESTATUS[0]}

## fuzz: every fuzz target of FUZZ_PKGS (the request path's decoders, validators and parsers), each for
## FUZZTIME; a failing input is kept in the package's testdata/fuzz, and then runs with the unit tests
## (scripts/fuzz.sh tells Go's own fuzz deadline race apart from a failing input)
FUZZ_PKGS ?= ./api ./store ./gateway ./collector
FUZZTIME  ?= 10s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ_PKGS)

## bench: benchmarks (not part of make test)
bench:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /tests)

## bench-deploy: the deploy benchmarks on the real stack, holding the stack lock like test-integration:
## no-op deploys side by side with a bare three-activity workflow, then 1,000 deploys on kwok fake nodes
bench-deploy: bench-orchestration bench-kwok

# BENCH_DEPLOY_N is how many workflows each side of bench-orchestration runs
BENCH_DEPLOY_N ?= 200
bench-orchestration: deps tools
	@mkdir -p $(STATE)
	set -o pipefail; flock $(STACK_LOCK) $(GO) test ./tests -run '^$$' -bench '^BenchmarkOrchestration$$' \
	  -benchtime=$(BENCH_DEPLOY_N)x -count=1 -timeout 30m 2>&1 | tee $(STATE)/bench-orchestration.log

# one round of 1,000 deploys (about 8 minutes on the 2-core machine); a round is bounded at 15 minutes
bench-kwok: deps tools
	@mkdir -p $(STATE)
	set -o pipefail; flock $(STACK_LOCK) $(GO) test ./tests -run '^$$' -bench '^BenchmarkDeployThousandKwok$$' \
	  -benchtime=1x -count=1 -timeout 40m 2>&1 | tee $(STATE)/bench-kwok.log

## bench-build: cold, rebuild and equal build times of each builder (dockerfile, ko, generated Go and static
## site, import) through the API on the real stack's buildkitd and registry, one build each, then BuildKit alone
## (a Dockerfile cold and cached); holds the stack lock like test-integration; log in .rainflow
bench-build: deps tools
	@mkdir -p $(STATE)
	set -o pipefail; flock $(STACK_LOCK) $(GO) test ./tests -run '^$$' -bench '^Benchmark(Builds|BuildKitDockerfile)$$' \
	  -benchtime=1x -count=1 -timeout 40m 2>&1 | tee $(STATE)/bench-build.log

## bench-collector: the disk's limit (write + fsync of the NDJSON), the collector's acknowledged ingest over
## HTTP on 127.0.0.1 (lines/s, MiB/s, CPU per line) and live-tail latency with 1,000 websocket readers.
## BENCH_COLLECTOR_MIB sets the NDJSON written (default 256); BENCH_COLLECTOR_GZIP=1 sends the ingest bodies gzip'd.
bench-collector:
	$(GO) test ./collector -run '^$$' -bench '^BenchmarkCollector(Disk|Ingest|Tail)$$' -benchtime=1x -count=1 -timeout 3m

## bench-api: p50/p99 latency of GET .../components/{c} through the whole API at 1, 8 and 32 clients, on a
## SQLite file, then on MariaDB (under the stack lock, without starting the stack); log in .rainflow
BENCH_API_N ?= 2000
bench-api: deps
	@mkdir -p $(STATE)
	set -o pipefail; { $(GO) test ./api -run '^$$' -bench '^BenchmarkComponentRead$$' -benchtime=$(BENCH_API_N)x -count=1 && \
	  RAINFLOW_TESTS_NO_STACK=1 flock $(STACK_LOCK) $(GO) test ./tests -run '^$$' -bench '^BenchmarkComponentReadMariaDB$$' \
	    -benchtime=$(BENCH_API_N)x -count=1 -timeout 20m; } 2>&1 | tee $(STATE)/bench-api.log

## bench-gateway: the gateway against nginx (2 workers, upstream keepalive) on 127.0.0.1, in interleaved
## rounds of wrk: req/s, p50/p99 and CPU per request of the backend, nginx and the gateway, over HTTP and
## over HTTPS (the same certificate, TLS 1.2/1.3, keep-alive); TCP MB/s and
## CPU per GB through nginx's stream proxy and the gateway's TCP route (under 3 minutes); then the
## route-table benchmarks with 10,000 routes (build time, heap kept); log in .rainflow
bench-gateway: deps
	@mkdir -p $(STATE)
	set -o pipefail; { $(GO) run ./internal/gatewaybench && \
	  $(GO) test ./gateway -run '^$$' -bench '^Benchmark(RouteTable10k|RoutesEqual10k|BuildL4_10k)$$' -benchtime=3x -count=1; \
	} 2>&1 | tee $(STATE)/bench-gateway.log

## clean-state: stop what a crashed run left, remove the local stack's data and the pod bridge (keeps the built tools)
clean-state: build
	$(BIN)/rainflow dev --clean --state $(STATE)/test --bin $(BIN)
	$(BIN)/rainflow dev --clean --state $(STATE)
