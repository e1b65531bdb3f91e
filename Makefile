# audittrail: build, test, lint, demo, bench. `make help` lists the targets.

GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE          ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS       := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# The race detector needs cgo and a C compiler; without one, tests run without it.
RACE          := $(shell command -v $${CC:-gcc} >/dev/null 2>&1 && echo -race)

.PHONY: help build test lint demo bench clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build the static binary bin/audittrail
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/audittrail ./cmd/audittrail

test: peers ## Run all tests (race detector when a C compiler is present)
	@[ -n "$(RACE)" ] || echo "note: no C compiler found, running tests without -race"
	CGO_ENABLED=$(if $(RACE),1,0) $(GO) test $(RACE) -timeout 12m -count=1 ./...

.PHONY: peers
peers: ## Build the real test receivers (OTel Collector, VictoriaLogs, Toxiproxy) once into a cache
	GO=$(GO) sh internal/peers/build/peers.sh

lint: ## gofmt, go vet, staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

demo: build ## Run the pipeline in a local Lambda and summarize the trail (./demo-trail)
	./bin/audittrail demo --trail ./demo-trail

bench: ## Measure extension init time and post-runtime overhead in lambdasim
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./...

clean: ## Remove build outputs and the demo trail
	rm -rf bin demo-trail
