# Cessez-le-feu: `make run` starts everything, `make test` runs every test. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test install lint messages bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the app with its test tools

run: $(STAMP) ## migrate, seed the demo and start web + worker + scheduler on http://127.0.0.1:8000
	$(BIN)/python -m app.cli run

test: $(STAMP) ## run the whole test suite (SQLite, or PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
	$(BIN)/python -m tests.browser_setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy and the architecture contract (layers, no import cycle)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_architecture.py

messages: $(STAMP) ## extract translatable strings and update the French catalog
	$(BIN)/pybabel extract -k N_ -F babel.cfg -o app/translations/messages.pot --no-location --sort-output app
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations -l fr --no-fuzzy-matching --ignore-obsolete

bench: $(STAMP) ## run the benchmarks (they print figures)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## remove the virtualenv and local state (the embedded database too)
	rm -rf $(VENV) var
