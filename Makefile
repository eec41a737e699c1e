# Costdesk: `make run` serves the dashboard, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
WORKERS ?= 2
HOST   ?= 127.0.0.1
SUDO   := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test lint format bench demo system-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# One line says where the dashboard is and whether demo data was loaded. HOST=0.0.0.0 serves
# other machines too (see "Serving other machines" in the README).
run: $(VENV)/.runtime
	@echo "Costdesk: http://$(HOST):$(PORT) · $$($(PY) cli.py demo)"
	@$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --server.fileWatcherType none \
		--logger.hideWelcomeMessage true --logger.level warning --browser.gatherUsageStats false

# Debian's chromium for the browser tests and PostgreSQL 15 for the database tests.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-color-emoji; }
	@[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql-15; }

# Test files are spread over WORKERS processes; each file stays on one worker, so a
# module's fixtures (a PostgreSQL cluster) start once. The browser tests then run one at a
# time: a served app and Chromium each want a core, and their waits are timed.
test: $(VENV)/.dev system-deps
	$(PY) -m pytest -n $(WORKERS) --dist loadfile -m "not e2e"
	$(PY) -m pytest -m e2e

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev
	$(PY) bench/plans.py
	$(PY) bench/store.py --backends sqlite postgresql
	$(PY) bench/queries.py --backends sqlite postgresql
	$(PY) bench/routing.py --backends sqlite postgresql
	$(PY) bench/growth.py --backends sqlite postgresql
	$(PY) bench/budgets.py --backends sqlite postgresql
	$(PY) bench/pages.py --backends sqlite postgresql
	$(PY) bench/ingest.py

demo: $(VENV)/.runtime
	$(PY) cli.py demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
