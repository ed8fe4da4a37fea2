# Chirp: the commands a developer needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BACKEND := backend
BIN := $(BACKEND)/bin/chirp

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# One process serves the API and the page (chirp dev): the page knows the API's real port, a
# busy port stops both, and Ctrl+C is handled in one place. exec leaves no shell in between, so
# make sees chirp's own status: 0 after a clean stop, and no "*** Error" line.
.PHONY: run
run: ## the API on :8000 (embedded SQLite: backend/chirp.db) and the page on :3000; Ctrl+C stops both
	@echo "building chirp: the first build downloads Go modules and takes a minute or two"
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp
	cd $(BACKEND) && WEB_ROOT=../frontend/public exec ./bin/chirp dev

.PHONY: build
build: ## build the backend binary into backend/bin/chirp (static, no cgo)
	cd $(BACKEND) && CGO_ENABLED=0 $(GO) build -trimpath -o bin/chirp ./cmd/chirp

FRONTEND := frontend

.PHONY: test
test: check $(FRONTEND)/node_modules ## the whole suite: Go (race detector; PostgreSQL too with TEST_DATABASE_URL), then Node and browser tests
	cd $(BACKEND) && $(GO) test -race -count=1 -timeout 20m ./...
	cd deploy/check && $(GO) test -race -count=1 -timeout 10m ./...
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp
	cd $(FRONTEND) && CHIRP_BIN=../$(BIN) npm test

# The socket.io client and playwright-core, exactly as package-lock.json pins them.
$(FRONTEND)/node_modules: $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: check
check: ## gofmt and go vet
	@unformatted=$$(gofmt -l $(BACKEND) deploy/check) && if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd $(BACKEND) && $(GO) vet ./...
	cd deploy/check && $(GO) vet ./...

.PHONY: bench
bench: ## Go benchmarks: list and create through the router on SQLite (and PostgreSQL with TEST_DATABASE_URL)
	cd $(BACKEND) && $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

.PHONY: clean
clean: ## remove build output and the local SQLite database
	rm -rf $(BACKEND)/bin $(BACKEND)/chirp.db $(BACKEND)/chirp.db-wal $(BACKEND)/chirp.db-shm
