# Vraagbaak: `make demo` and `make test` are all a fresh machine needs.
# The newest Python 3.11+ that really works (a pyenv shim may exist for a version that is
# not enabled): 3.13, 3.12, then 3.11.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import ssl, sqlite3, venv, sys; assert sys.version_info >= (3, 11)' \
	>/dev/null 2>&1 && command -v $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
MO := locales/nl/LC_MESSAGES/messages.mo locales/en/LC_MESSAGES/messages.mo

.PHONY: install browser postgres axe demo test soak lint catalogs bench clean

install: $(VENV)/.installed $(MO)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d locales -D messages -l $* -i $< -o $@

demo: install
	$(BIN)/vraagbaak demo

# Debian's Chromium for the browser test of the chat page (root only; otherwise that test skips).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
	    && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
	    >/dev/null || echo "Chromium not installed (needs root): the browser test will skip"; }

# Debian's PostgreSQL server binaries for the summaries and dashboard tests, which start a
# throwaway cluster in a temp dir (root only; otherwise those PostgreSQL variants skip).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] \
	    && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
	    >/dev/null || echo "PostgreSQL not installed (needs root): the PostgreSQL tests will skip"; }

# axe-core from the npm registry, pinned in package-lock.json, for the accessibility test
# (without npm, or offline, that test skips and the rest runs).
axe: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent \
	    || echo "npm ci failed: the accessibility test will skip"; \
	else echo "npm not found: the accessibility test will skip"; fi

# Each worker gets its own embedded Redis (session fixtures are per process); 2 cores → ~70 s.
test: install browser postgres axe
	$(BIN)/python -m pytest -n auto --maxprocesses 4

# The long fault tests (Redis outage, kill -9 under load, flood): minutes, not seconds.
soak: install
	$(BIN)/python -m pytest -n 0 -m soak --timeout 900

lint: install
	$(BIN)/ruff check bot handlers knowledge handoff locales tests bench

# Re-extract translatable strings and merge them into both catalogs (then translate the new ones).
catalogs: $(VENV)/.installed
	$(BIN)/pybabel extract -F locales/babel.cfg -k _ -k _p:1c,2 -k _n:1,2 -k N_ \
	    --no-location --sort-output --project=vraagbaak -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache node_modules
