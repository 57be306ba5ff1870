# paydesk — two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing paydesk and its test tools into $(VENV)"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,bench]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/paydesk demo

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: setup
	$(BIN)/mypy --strict src/paydesk/protocol src/paydesk/db src/paydesk/client src/paydesk/settings src/paydesk/domain

unit: setup
	$(BIN)/python tests/run.py

test: lint typecheck unit

bench: setup
	$(BIN)/python bench/protocol.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage test-artifacts
