# servescope: two commands on a fresh machine.
#   make demo   the simulated cluster and the full stack, dashboard on 127.0.0.1
#   make test   every check and test
# Both install what they need. The Go build cache is kept warm on purpose:
# nothing here wipes it.

GO        ?= go
BIN       := bin/servescope
PKGS      := ./...
DEBS      := prometheus prometheus-alertmanager chromium tmux
DEMO_ADDR ?= 127.0.0.1:9464
SIM_ADDR  ?= 127.0.0.1:9500
DEMO_DIR  ?= .demo

.PHONY: all build deps debs test vet lint unit fuzz bench loadtest demo clean

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

build:
	$(GO) build -o $(BIN) ./cmd/servescope

vet:
	@test -z "$$(gofmt -l cmd internal examples)" || { echo "gofmt needed:"; gofmt -l cmd internal examples; exit 1; }
	$(GO) vet $(PKGS)

lint:
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)

## fuzz: a short run of every fuzz target (CI runs the seed corpora in unit).
fuzz:
	scripts/fuzz.sh 15s

test: deps vet lint unit

bench:
	scripts/bench.sh

## loadtest: 200 req/s of dashboard pages and queries against a serve
## scraping 20 targets; prints requests/s served at p95 < 1 s, scrapes
## missed and RSS (BENCHMARKS.md, "Scraping under API load").
loadtest: build
	$(GO) run ./cmd/loadtest -bin $(BIN) $(LOADTEST_ARGS)

demo: deps build
	scripts/demo.sh $(BIN) $(DEMO_DIR) $(SIM_ADDR) $(DEMO_ADDR)

clean:
	rm -rf bin $(DEMO_DIR)
