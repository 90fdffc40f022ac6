# idp — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/idp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# -X only changes the link step: a rebuild after a one-line change still
# recompiles just that package.
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
PKGS    := ./...
# Flags for `make run`, e.g. make run ARGS='--http-addr 127.0.0.1:9000'.
ARGS    ?=
# Benchmarks: `make bench BENCH=Login BENCHTIME=2s`.
BENCH     ?= .
BENCHTIME ?= 1s

.PHONY: all build run test test-short bench lint fmt clean e2e-deps

all: lint test build

## build: bin/idp, stamped with version, commit and build date (idp version).
## -v lists each package as it compiles: the first build (modules downloaded,
## everything compiled) takes one to three minutes; later ones seconds.
build:
	@echo "build: compiling $(BIN) (the first build downloads the modules and compiles every package: one to three minutes; later builds take seconds)"
	@start=$$(date +%s); \
	$(GO) build -v -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/idp && \
	echo "build: $(BIN) ready ($$(( $$(date +%s) - start )) s)"

## run: serve on 127.0.0.1:8080 with the embedded store (data/) and a generated
## development key-encryption key (keys/kek). No database server, no set-up.
## Another port: make run ARGS='--http-addr 127.0.0.1:9000'.
run: build
	./$(BIN) serve $(ARGS)

## test: vet + every test with the race detector. Postgres tests use
## IDP_TEST_DATABASE_URL (default: postgres://postgres@127.0.0.1:5432/postgres);
## they skip when it is unreachable unless IDP_TEST_REQUIRE_POSTGRES=1 (CI).
## The interop tests skip when a verifier could not be installed unless
## IDP_TEST_REQUIRE_INTEROP=1 (CI). One line each says what will run.
test: e2e-deps
	@.ci/preflight
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-short: the quick check while working: every in-process test once,
## without the race detector, the verifier installation or the e2e processes.
test-short:
	@.ci/preflight
	$(GO) test -short -count=1 $(PKGS)

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

## e2e-deps: the third-party verifiers the interop tests in internal/e2e run —
## Node's jose (pinned, into the git-ignored $(NPM_DIR)) and Debian's PyJWT,
## cryptography, Django (with argon2-cffi, bcrypt and psycopg2 for the Django hash vectors
## and import fixtures), DRF and SimpleJWT (used with /usr/bin/python3), and
## Chromium for the OIDC browser test (internal/server, driven with chromedp).
## Installs only what is missing; `make test` depends on it. What it cannot
## install (no apt-get, not root, no Node) it names, and the tests using it skip
## (fail under IDP_TEST_REQUIRE_INTEROP=1, as in CI).
NPM_DIR      := .cache/npm
JOSE_VERSION := 6.2.17
E2E_DEBS     := python3-jwt python3-cryptography python3-django python3-argon2 python3-bcrypt python3-psycopg2 \
                python3-djangorestframework python3-djangorestframework-simplejwt \
                chromium

e2e-deps:
	@missing=$$(for p in $(E2E_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "e2e-deps: apt-get install" $$missing; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -q --no-install-recommends $$missing || \
			{ apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; } || \
			echo "e2e-deps: could not install" $$missing "- the interop tests that need them skip"; \
		else \
			echo "e2e-deps: cannot install" $$missing "(needs apt-get, as root) - the interop tests that need them skip"; \
		fi; \
	fi
	@have=$$(node -p "require('./$(NPM_DIR)/node_modules/jose/package.json').version" 2>/dev/null); \
	if [ "$$have" != "$(JOSE_VERSION)" ]; then \
		if command -v npm >/dev/null 2>&1; then \
			echo "e2e-deps: npm install jose@$(JOSE_VERSION) into $(NPM_DIR)"; \
			mkdir -p $(NPM_DIR) && \
			npm install --prefix $(NPM_DIR) --no-audit --no-fund --save-exact --loglevel=error jose@$(JOSE_VERSION) || \
			echo "e2e-deps: could not install jose - the jose interop tests skip"; \
		else \
			echo "e2e-deps: cannot install jose (no Node.js/npm) - the jose interop tests skip"; \
		fi; \
	fi
