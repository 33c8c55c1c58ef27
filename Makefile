# The two commands: `make run` serves everything at http://127.0.0.1:8000, `make test` proves it.
# Every install step lives here, so a fresh clone needs only Python 3.11+, Node 20+ and make.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := backend/.venv
BIN := $(abspath $(VENV)/bin)
HAS_FRONTEND := $(wildcard frontend/package.json)
FRONTEND_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) $(wildcard frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json)

.PHONY: help install run dev test test-backend test-frontend test-e2e lint format migrate types state bench up down logs clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# installs (stamped: re-running is instant when nothing changed)

$(VENV)/.installed: backend/pyproject.toml backend/requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c backend/requirements.lock -e 'backend[dev,bench]'
	@touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent

install: $(VENV)/.installed $(if $(HAS_FRONTEND),frontend/node_modules/.installed)  ## Install backend and frontend dependencies

# running

migrate: $(VENV)/.installed  ## Apply database migrations (alembic upgrade head)
	cd backend && $(BIN)/alembic upgrade head

run: install $(if $(HAS_FRONTEND),frontend/dist/index.html) migrate  ## Serve the whole product at http://$${HOST:-127.0.0.1}:$${PORT:-8000}
	cd backend && exec $(BIN)/python -m app

dev: install migrate  ## Backend with reload on :8000 and the Vite dev server on :5173
	cd backend && $(BIN)/uvicorn app.main:app --reload --host $${HOST:-127.0.0.1} --port $${PORT:-8000} & \
	trap 'kill %1' EXIT; cd frontend && npm run dev

# extending

types: $(VENV)/.installed  ## Regenerate frontend/src/interfaces/generated.ts from the backend's states
	cd backend && $(BIN)/python -m app.realtime.typescript > ../frontend/src/interfaces/generated.ts.tmp
	mv frontend/src/interfaces/generated.ts.tmp frontend/src/interfaces/generated.ts

state: $(VENV)/.installed  ## Scaffold a socket state end to end: make state name=pollVote
	@test -n "$(name)" || { echo "usage: make state name=yourState" >&2; exit 2; }
	cd backend && $(BIN)/python scripts/new_state.py "$(name)"

bench: $(VENV)/.installed  ## Benchmark the socket engine against raw Starlette and python-socketio
	$(BIN)/python -m bench $(BENCH_ARGS)

# quality

lint: install  ## ruff, mypy strict; eslint and vue-tsc on the frontend
	cd backend && $(BIN)/ruff format --check . && $(BIN)/ruff check . && $(BIN)/mypy
	$(if $(HAS_FRONTEND),cd frontend && npm run lint --silent && npm run format:check --silent && npm run type-check --silent)

format: install  ## Format the backend code
	cd backend && $(BIN)/ruff format . && $(BIN)/ruff check --fix .

test: lint test-backend $(if $(HAS_FRONTEND),test-frontend test-e2e)  ## Lint, then every test suite

test-backend: $(VENV)/.installed $(if $(HAS_FRONTEND),frontend/dist/index.html)  ## Backend tests (PostgreSQL/Redis ones need TEST_DATABASE_URL/TEST_REDIS_URL)
	@cd backend && status=0 && { $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; } && \
	if [ "$$status" = 5 ]; then echo "pytest collected no tests: failing loudly" >&2; exit 1; fi; \
	exit $$status

test-frontend: frontend/node_modules/.installed  ## Frontend unit tests (vitest)
	cd frontend && npm run test:unit --silent

# The browser suite drives Debian's Chromium (apt-get install chromium). Without it, `make test`
# says it skipped the suite; in CI (CI=true) a missing browser is a failure.
CHROMIUM ?= /usr/bin/chromium

e2e/node_modules/.installed: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-e2e: $(VENV)/.installed frontend/dist/index.html e2e/node_modules/.installed  ## Browser tests in Chromium
	@if [ -x "$(CHROMIUM)" ]; then cd e2e && CHROMIUM="$(CHROMIUM)" npm test; \
	elif [ -n "$${CI:-}" ]; then echo "Chromium is missing at $(CHROMIUM)" >&2; exit 1; \
	else echo "SKIPPED the browser suite: no Chromium at $(CHROMIUM) (apt-get install chromium)"; fi

# the docker compose stack

up:  ## docker compose up: PostgreSQL, Redis, backend workers and nginx (needs .env)
	docker compose up --build --detach
	@echo "Serving at http://localhost:$${FRONTEND_PORT:-8000}"

down:  ## Stop the compose stack (data stays in the db-data volume)
	docker compose down

logs:  ## Follow the compose stack's logs
	docker compose logs --follow --tail=100

clean:  ## Remove installed dependencies and build output (keeps backend/data)
	rm -rf $(VENV) frontend/node_modules frontend/dist e2e/node_modules
