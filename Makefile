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

# The layer zips hold extensions/audittrail (the static binary for the
# architecture) and audittrail-wrapper, stamped with the commit's DATE: the
# same commit and toolchain give the same bytes. The binary that runs here
# must print the values passed in LDFLAGS; mklayer refuses a zip of 8 MiB
# or more.
.PHONY: layer
layer: ## Build the Lambda layer zips dist/audittrail-layer-{x86_64,arm64}.zip
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/audittrail-linux-amd64 ./cmd/audittrail
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/audittrail-linux-arm64 ./cmd/audittrail
	@bin=bin/audittrail-linux-$$($(GO) env GOARCH); want='audittrail $(VERSION) (commit $(COMMIT), built $(DATE))'; \
	  if [ "$$($(GO) env GOOS)" != linux ] || [ ! -f $$bin ]; then echo "note: no binary runs here, version not checked"; exit 0; fi; \
	  got=$$($$bin version); [ "$$got" = "$$want" ] || { echo "layer: $$bin version printed '$$got', want '$$want'"; exit 1; }; \
	  echo "$$bin version: $$got"
	$(GO) run ./layer/cmd/mklayer -arch amd64 -binary bin/audittrail-linux-amd64 -date '$(DATE)' -out dist/audittrail-layer-x86_64.zip
	$(GO) run ./layer/cmd/mklayer -arch arm64 -binary bin/audittrail-linux-arm64 -date '$(DATE)' -out dist/audittrail-layer-arm64.zip

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
	rm -rf bin dist demo-trail
