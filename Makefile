# The two commands of the README: `make demo` and `make test`. Both set up what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint
setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/pathlens demo

# The front end's checks: its types against the server's schema (svelte-check) and the unit
# tests of its pure layout modules (vitest).
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	cd web && npm run --silent check && npm run --silent test:unit

test: lint
	$(BIN)/python -m pytest

# day-to-day: without the slow and the browser tests (under a minute); `make test` runs all
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser" -q
