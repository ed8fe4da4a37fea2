# Chirp: the commands a developer needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BACKEND := backend
BIN := $(BACKEND)/bin/chirp

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# One process serves the API and the page (chirp dev): the page knows the API's real port, a
# busy port stops both, and Ctrl+C is handled in one place. exec leaves no shell in between, so
# make sees chirp's own status: 0 after a clean stop, and no "*** Error" line.
#
# .env at the root (or the file ENV_FILE names), when there is one, is read as docker compose
# reads it, and by compose's rule: a variable already in the environment (or given as `make run
# NAME=value`) wins over its line. Lines are NAME=value, an `export ` before allowed; blank
# lines and # comments are skipped; one pair of quotes around a value is taken off, and an
# unquoted value ends at " #". Nothing in the file is run by the shell. WEB_ROOT is make run's
# own: the bundle as seen from backend/, where chirp runs.
ENV_FILE ?= .env
.PHONY: run
run: ## the API on :8000 (embedded SQLite: backend/chirp.db) and the page on :3000, with .env's settings; Ctrl+C stops both
	@if [[ -f "$(ENV_FILE)" ]]; then \
	  echo "make run: read settings from $(ENV_FILE)"; \
	  declare -A preset=(); for name in $$(compgen -e); do preset[$$name]=1; done; \
	  n=0; while IFS= read -r line || [[ -n $$line ]]; do \
	    n=$$((n + 1)); line=$${line%$$'\r'}; \
	    [[ $$line =~ ^[[:space:]]*(\#|$$) ]] && continue; \
	    if [[ ! $$line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$$ ]]; then \
	      echo "make run: $(ENV_FILE) line $$n is not NAME=value: $$line" >&2; exit 2; \
	    fi; \
	    name=$${BASH_REMATCH[2]} value=$${BASH_REMATCH[3]}; \
	    if [[ $$value =~ ^\"(.*)\"[[:space:]]*$$ || $$value =~ ^\'(.*)\'[[:space:]]*$$ ]]; then \
	      value=$${BASH_REMATCH[1]}; \
	    else \
	      value=$${value%%[[:space:]]\#*}; value=$${value%"$${value##*[![:space:]]}"}; \
	    fi; \
	    [[ -n $${preset[$$name]:-} ]] || export "$$name=$$value"; \
	  done < "$(ENV_FILE)"; \
	fi; \
	if [[ ! -x $(BIN) ]]; then \
	  echo "building chirp: the first build takes a few minutes (Go lists the modules it downloads, then compiles without a word)"; \
	fi; \
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp && WEB_ROOT=../frontend/public exec ./bin/chirp dev

# Several backends behind nginx without Docker, the balancer rendered from the template compose
# uses; deploy/balancer/run-balanced.sh says which variables move its ports.
.PHONY: run-balanced
run-balanced: ## BACKENDS (2) API processes on one PostgreSQL (DATABASE_URL) behind nginx on :8000, the page on :3000; Ctrl+C stops all
	@deploy/balancer/run-balanced.sh check
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp
	CHIRP_BIN=$(BIN) exec deploy/balancer/run-balanced.sh

.PHONY: build
build: ## build the backend binary into backend/bin/chirp (static, no cgo)
	cd $(BACKEND) && CGO_ENABLED=0 $(GO) build -trimpath -o bin/chirp ./cmd/chirp

FRONTEND := frontend

# The stages, their order and the summary are in .ci/stages.sh (TestStages in deploy/check holds
# them); the commands are here.
.PHONY: test
test: ## the whole suite: gofmt and vet, the OpenAPI lint, Go (race detector; PostgreSQL too with TEST_DATABASE_URL), each fuzz target 10 s, deploy/check, Node and browser tests, then docker compose on a real engine (skipped without one); a summary names what failed
	@STAGE_CHECK='$(MAKE) -s check' \
	STAGE_NPM_PACKAGES='$(MAKE) -s $(FRONTEND)/node_modules' \
	STAGE_OPENAPI_LINT='$(MAKE) -s lint-openapi' \
	STAGE_GO_TESTS='cd $(BACKEND) && $(GO) test -race -count=1 -timeout 20m ./... && cd bench/load && $(GO) test -race -count=1 ./...' \
	STAGE_FUZZ='$(MAKE) -s fuzz FUZZTIME=10s' \
	STAGE_CHECK_TESTS='cd deploy/check && $(GO) test -race -count=1 -timeout 10m ./...' \
	STAGE_BUILD='cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp' \
	STAGE_NODE_TESTS='cd $(FRONTEND) && CHIRP_BIN=../$(BIN) npm test' \
	STAGE_COMPOSE='deploy/engine/test-compose.sh' \
	.ci/stages.sh

# The compose files, the Dockerfile and the nginx templates run by a real Docker engine
# (deploy/engine/test-compose.sh): skipped in one line where no engine answers, unless
# CHIRP_REQUIRE_DOCKER=1; STANDIN_IMAGES=1 builds stand-ins for the official images.
.PHONY: test-compose
test-compose: $(FRONTEND)/node_modules ## docker compose up for real on this machine's Docker engine, two Chromium tabs through the containers (STANDIN_IMAGES=1: no Docker Hub needed)
	deploy/engine/test-compose.sh

# The socket.io client and playwright-core, exactly as package-lock.json pins them.
$(FRONTEND)/node_modules: $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

# openapi.json under Redocly's recommended rules (backend/httpapi/redocly.yaml; the
# .redocly.lint-ignore.yaml beside it names each place a rule is waived, and why), by the linter
# package-lock.json pins. Its telemetry and update check are off: a lint has no business calling out.
.PHONY: lint-openapi
lint-openapi: $(FRONTEND)/node_modules ## lint backend/httpapi/openapi.json (Redocly CLI, recommended rules)
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(FRONTEND)/node_modules/.bin/redocly lint --config $(BACKEND)/httpapi/redocly.yaml

# The README's screenshots, of the real page (the API and `chirp web` on a fresh SQLite file) in
# headless Chromium: desktop in the light scheme, a phone in the dark one.
.PHONY: screenshots
screenshots: $(FRONTEND)/node_modules ## take the README's screenshots (docs/screenshot-*.png) again, of the real page in Chromium
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp
	cd $(FRONTEND) && CHIRP_BIN=../$(BIN) node scripts/screenshots.js

.PHONY: check
check: ## gofmt and go vet
	@unformatted=$$(gofmt -l $(BACKEND) deploy/check) && if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd $(BACKEND) && $(GO) vet ./...
	cd $(BACKEND)/bench/load && $(GO) vet ./...
	cd deploy/check && $(GO) vet ./...

# Each Go fuzz target, as package:Target. `go test` runs their seeds (in the code and in the
# package's testdata/fuzz) with the other tests; this looks further.
FUZZ_TARGETS := httpapi:FuzzCreateTweet httpapi:FuzzEditTweet httpapi:FuzzListQuery \
	httpapi:FuzzSignUp httpapi:FuzzSignIn httpapi:FuzzSetPassword \
	realtime:FuzzClientPayload realtime:FuzzWebsocketFrame web:FuzzRequestHost hotwindow:FuzzAnswer .:FuzzParseIdempotencyKey \
	accounts:FuzzParseHandle accounts:FuzzCheckPassword accounts:FuzzParsePHC passkeys:FuzzParseCredential
FUZZTIME ?= 2m

.PHONY: fuzz
fuzz: ## run each Go fuzz target for FUZZTIME (2m); prints its executions; a finding is saved in the package's testdata/fuzz
	@failed=(); for target in $(FUZZ_TARGETS); do \
	  pkg=$${target%%:*} name=$${target#*:}; \
	  fuzz() { cd $(BACKEND) && $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg 2>&1; }; \
	  out=$$(fuzz) && ok=1 || ok=; \
	  if [[ -z $$ok && $$out == *"context deadline exceeded"* && $$out != *"Failing input written"* ]]; then \
	    echo "$$pkg $$name: the fuzzer's own timeout race (no input failed), once more"; \
	    out=$$(fuzz) && ok=1 || ok=; \
	  fi; \
	  if [[ -n $$ok ]]; then \
	    printf 'ok      %-28s %s\n' "$$pkg $$name" "$$(grep -o 'elapsed: [^,]*, execs: [0-9]*' <<<"$$out" | tail -1)"; \
	  else \
	    printf '%s\nFAILED  %s %s\n' "$$out" "$$pkg" "$$name"; failed+=("$$name"); \
	  fi; \
	done; \
	if (( $${#failed[@]} )); then echo "fuzz: FAILED: $${failed[*]}"; exit 1; fi

.PHONY: bench
bench: ## Go benchmarks: list and create through the router on SQLite (and PostgreSQL with TEST_DATABASE_URL), metrics off and on
	cd $(BACKEND) && $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

# docs/PERFORMANCE.md's comparisons beside the Node peer (backend/bench), at the tables' sizes, one
# after the other. Each script builds the load tool, installs the peer from its lock file, and
# runs Chirp and the peer alternately, each on a fresh database of DATABASE_URL's server.
# COMPARE_REPS runs of each, three as the tables took them (COMPARE_REPS=1 takes a third of the
# time); the larger sizes are the commands in PERFORMANCE.md.
COMPARE_REPS ?= 3
.PHONY: compare
compare: build ## Chirp beside the Node peer as docs/PERFORMANCE.md reports it: fan-out, herd, API, write storm, bus cost, with the ratios (PostgreSQL at DATABASE_URL; about 11 min)
	backend/bench/compare-fanout.sh $(BIN) 5000 20 $(COMPARE_REPS)
	backend/bench/compare-herd.sh $(BIN) 2000 10 $(COMPARE_REPS)
	backend/bench/compare-api.sh $(BIN) $(COMPARE_REPS)
	backend/bench/compare-storm.sh $(BIN) 1000 $(COMPARE_REPS)
	backend/bench/bus-cost.sh $(BIN) $(COMPARE_REPS)

.PHONY: soak
soak: ## 10 minutes of mixed load against the binary with its default limits (not in CI); SOAK_FLAGS=-duration=2m for less
	cd $(BACKEND) && $(GO) build -o bin/chirp ./cmd/chirp
	cd $(BACKEND) && $(GO) run ./cmd/soak -bin bin/chirp $(SOAK_FLAGS)

.PHONY: clean
clean: ## remove build output and the local SQLite database
	rm -rf $(BACKEND)/bin $(BACKEND)/chirp.db $(BACKEND)/chirp.db-wal $(BACKEND)/chirp.db-shm
