# The two commands of the README: `make demo` and `make test`. Both set up what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint
setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/pathlens demo

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	$(BIN)/python -m pytest
