# servescope: two commands on a fresh machine.
#   make demo   the simulated cluster and the full stack, dashboard on 127.0.0.1
#   make test   every check and test
# Both install what they need. The Go build cache is kept warm on purpose:
# nothing here wipes it.

GO        ?= go
BIN       := bin/servescope
PKGS      := ./...
# The ground-truth checks: tests only, comparing the catalog, cost and
# diagnosis with the simulator over simulated hours on one goroutine.
TRUTH_PKGS := ./internal/schema/simcheck/ ./internal/analyze/cost/simcheck/ ./internal/analyze/diagnose/simcheck/
# The cross-surface checks: every surface's figures equal over simulated
# fleets (tests only; the code they drive runs concurrently in, and is
# raced by, its own packages' tests).
AGREE_PKGS := ./internal/app/surfaces/
DEBS      := prometheus prometheus-alertmanager chromium tmux
DEMO_ADDR ?= 127.0.0.1:9464
SIM_ADDR  ?= 127.0.0.1:9500
DEMO_DIR  ?= .demo

.PHONY: all build deps debs test vet lint unit unit-main unit-truth unit-agree unit-image fuzz bench bench-compare prometheus3 loadtest demo clean image e2e e2e-thanos

all: build

## deps: Go modules, and Debian packages when missing and we are root.
deps: debs
	$(GO) mod download

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "not root: tests that need$$missing will skip"; \
	  fi; \
	fi

## build: the binary, its version from git (revision, commit time, changes)
## since the toolchain's VCS stamp is off in worktrees and with
## GOFLAGS=-buildvcs=false; `servescope --version` and buildinfo show it.
build:
	$(GO) build -ldflags "-X main.revision=$(REVISION) -X main.commitTime=$(COMMIT_TIME) -X main.modified=$(MODIFIED) -X main.branch=$(BRANCH)" \
	  -o $(BIN) ./cmd/servescope

vet:
	@test -z "$$(gofmt -l cmd internal examples)" || { echo "gofmt needed:"; gofmt -l cmd internal examples; exit 1; }
	$(GO) vet $(PKGS)

lint:
	$(GO) tool staticcheck $(PKGS)

## unit: the module's tests and the image tool's (its own module) side by
## side; each one's output is printed whole when it ends.
unit:
	@$(MAKE) --no-print-directory -j4 --output-sync=target unit-main unit-truth unit-agree unit-image

## unit-main: every package under the race detector, but the ground-truth
## and cross-surface checks (TRUTH_PKGS, AGREE_PKGS).
unit-main:
	$(GO) test -race -shuffle=on -timeout 20m $$($(GO) list $(PKGS) | grep -v -e /simcheck$$ -e /app/surfaces$$)

## unit-truth: the ground-truth checks at the spans they ran under -race
## (-short: hours instead of days, the quick scenarios), without the race
## detector, which made them five times slower; the code they drive is
## raced in its own packages and internal/app. `make e2e` runs them raced,
## and at their full spans.
unit-truth:
	$(GO) test -short -shuffle=on -timeout 20m $(TRUTH_PKGS)

## unit-agree: the cross-surface checks in full, without the race detector
## (ten times slower there: they simulate fleets and parse their
## exposition); `make e2e` runs them raced.
unit-agree:
	$(GO) test -shuffle=on -timeout 20m $(AGREE_PKGS)

unit-image:
	cd tools/image && $(GO) test -race -timeout 10m ./...

## fuzz: a short run of every fuzz target (CI runs the seed corpora in unit).
fuzz:
	scripts/fuzz.sh 15s

## test: gofmt, vet and staticcheck run beside the tests, which spend much
## of their time waiting on the processes they start (Prometheus,
## Alertmanager, Chromium, servescope itself): nothing is skipped, the
## machine is kept busy. Any failure fails the target.
test: deps
	@$(MAKE) --no-print-directory -j6 --output-sync=target vet lint unit-main unit-truth unit-agree unit-image

bench:
	scripts/bench.sh

## bench-compare: servescope next to Debian's Prometheus (and Prometheus 3
## when `make prometheus3` has built it into the cache) scraping the same
## simulated targets and evaluating the same recording rules; prints CPU,
## RSS, head series and dashboard query p95 with their ratios
## (BENCHMARKS.md). BENCH_COMPARE_ARGS: e.g. -targets 1000 -duration 3m.
PROMETHEUS3_BIN ?= $(HOME)/.cache/servescope/prometheus-v0.316.0
bench-compare: build
	$(GO) run ./cmd/benchcompare -bin $(BIN) $(if $(wildcard $(PROMETHEUS3_BIN)),-prometheus3 $(PROMETHEUS3_BIN)) $(BENCH_COMPARE_ARGS)

## prometheus3: Prometheus 3 (the version servescope embeds) built from
## source into the cache, for bench-compare.
prometheus3:
	mkdir -p $(dir $(PROMETHEUS3_BIN))
	d=$$(mktemp -d) && GOBIN=$$d GOFLAGS= $(GO) install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0 && mv $$d/prometheus $(PROMETHEUS3_BIN)

## loadtest: 200 req/s of dashboard pages and queries against a serve
## scraping 20 targets; prints requests/s served at p95 < 1 s, scrapes
## missed and RSS (BENCHMARKS.md, "Scraping under API load").
loadtest: build
	$(GO) run ./cmd/loadtest -bin $(BIN) $(LOADTEST_ARGS)

demo: deps build
	scripts/demo.sh $(BIN) $(DEMO_DIR) $(SIM_ADDR) $(DEMO_ADDR)

## image: the container image as an OCI layout in $(IMAGE_DIR), no Docker
## daemon and no base image: a static binary, passwd/group for the non-root
## user 65534, CA certificates. Push: skopeo copy oci:$(IMAGE_DIR):$(VERSION) docker://REF
## (or crane push $(IMAGE_DIR) REF). Reproducible: file times are SOURCE_DATE_EPOCH.
IMAGE_REPO        ?= ghcr.io/servescope/servescope
IMAGE_DIR         ?= bin/image
VERSION           ?= $(shell sed -n 's/^appVersion: *"*\([^"]*\)"*$$/\1/p' deploy/helm/servescope/Chart.yaml)
REVISION          ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_TIME       ?= $(shell git log -1 --format=%cI 2>/dev/null)
BRANCH            ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
MODIFIED          ?= $(shell git status --porcelain 2>/dev/null | grep -q . && echo true || echo false)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
GOARCH_IMAGE      ?= $(shell $(GO) env GOARCH)

image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_IMAGE) $(GO) build -trimpath \
	  -ldflags "-s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)" \
	  -o bin/linux-$(GOARCH_IMAGE)/servescope ./cmd/servescope
	cd tools/image && $(GO) run . -binary $(abspath bin/linux-$(GOARCH_IMAGE)/servescope) \
	  -out $(abspath $(IMAGE_DIR)) -ref $(IMAGE_REPO):$(VERSION) -version $(VERSION) \
	  -revision "$(REVISION)" -arch $(GOARCH_IMAGE) -created $(SOURCE_DATE_EPOCH)

## e2e: the chart (Helm SDK) and the generated stack with the operator's and
## Kueue's CRDs, applied with strict server-side validation to a real
## kube-apiserver v1.34.2 (built once into ~/.cache/servescope-e2e, 12-22 min)
## on Debian's etcd. Needs etcd-server (installed here when root). Then the
## Thanos part, then the ground-truth and cross-surface checks under the race detector, the first at
## their full spans (24 simulated hours of cost, every diagnosis scenario,
## 24 hours of the healthy fleet firing no burn-rate alert).
e2e:
	@dpkg -s etcd-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; } || true
	GO=$(GO) scripts/e2e.sh
	GO=$(GO) scripts/e2e-thanos.sh
	$(GO) test -race -count=1 -timeout 30m $(TRUTH_PKGS) $(AGREE_PKGS)
	$(GO) test -count=1 -timeout 30m $(TRUTH_PKGS)

## e2e-thanos: the Thanos part of e2e alone: two simulated clusters, each
## scraped by `serve --agent` remote-writing to thanos receive; cost and
## diagnose through thanos query (external mode) equal the embedded store's
## within 0.5%. Thanos v0.42.4 is built once into ~/.cache/servescope-e2e.
e2e-thanos:
	GO=$(GO) scripts/e2e-thanos.sh

clean:
	rm -rf bin $(DEMO_DIR)
