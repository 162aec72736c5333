# Tagbridge — see README.md. Every target works on a fresh clone.
GO       ?= go
BIN      := bin/tagbridge
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
ARGS     ?=

.PHONY: all build run test test-unit test-interop deps deps-apt deps-npm bench bench-scenarios lint fmt dist clean

all: build

## build: static binary in bin/ (CGO_ENABLED=0)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tagbridge

## run: the built-in demo (a simulated press line) on opc.tcp://127.0.0.1:4840, or ARGS='--config x.yaml'
run: build
	./$(BIN) run $(ARGS)

## test: every test, including the interop tests against independent peers; installs what they need
test: deps lint
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	TAGBRIDGE_INTEROP=1 $(GO) test -count=1 -timeout 10m ./test/interop/...

test-unit:
	$(GO) test -race -count=1 $(PKGS)

test-interop: deps
	TAGBRIDGE_INTEROP=1 $(GO) test -count=1 -v -timeout 10m ./test/interop/...

## deps: Go modules, Debian test peers (socat, mbpoll, pymodbus) and npm peers (node-opcua, jsmodbus)
deps: deps-apt deps-npm
	$(GO) mod download

deps-apt:
	@if ! command -v socat >/dev/null || ! command -v mbpoll >/dev/null || ! /usr/bin/python3 -c 'import pymodbus' 2>/dev/null; then \
		echo "installing test peers: socat mbpoll python3-pymodbus"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq socat mbpoll python3-pymodbus >/dev/null; \
	fi

deps-npm:
	@if [ ! -d test/interop/node_modules ] || [ test/interop/package-lock.json -nt test/interop/node_modules/.package-lock.json ]; then \
		cd test/interop && npm ci --no-audit --no-fund --loglevel=error; \
	fi

## bench: Go micro-benchmarks (codecs, planner, store fan-out, node lookups) and the short scenario run
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)
	$(GO) run ./test/bench -short -out docs/benchmarks.md

## bench-scenarios: every scenario incl. the opt-in 100k ones (long; see docs/benchmarks.md)
bench-scenarios:
	$(GO) run ./test/bench -scenario all -out docs/benchmarks.md

## lint: gofmt + go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files -o --exclude-standard '*.go' 2>/dev/null)); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go'; git ls-files -o --exclude-standard '*.go')

## dist: static binaries for linux/amd64, linux/arm64, windows/amd64 in dist/
dist:
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=linux   GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/tagbridge-linux-amd64 ./cmd/tagbridge
	CGO_ENABLED=0 GOOS=linux   GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/tagbridge-linux-arm64 ./cmd/tagbridge
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/tagbridge-windows-amd64.exe ./cmd/tagbridge
	cd dist && sha256sum tagbridge-* > SHA256SUMS

clean:
	rm -rf bin dist
