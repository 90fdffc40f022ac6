# idp — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/idp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS    := ./...
# Benchmarks: `make bench BENCH=Login BENCHTIME=2s`.
BENCH     ?= .
BENCHTIME ?= 1s

.PHONY: all build run test test-short bench lint fmt clean

all: lint test build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/idp

## run: serve on 127.0.0.1:8080 with the embedded store (data/) and a generated
## development key-encryption key (keys/kek). No database server, no set-up.
run: build
	./$(BIN) serve

## test: vet + every test with the race detector. Postgres tests use
## IDP_TEST_DATABASE_URL (default: postgres://postgres@127.0.0.1:5432/postgres);
## they skip when it is unreachable unless IDP_TEST_REQUIRE_POSTGRES=1 (CI).
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -count=1 $(PKGS)

## bench: Go benchmarks of signing, verifying, hashing, storage and every HTTP
## endpoint end to end on both stores.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) $(PKGS)

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
