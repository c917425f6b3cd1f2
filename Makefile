# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
# Where `make run` serves: `make run PORT=8080`, `make run HOST=0.0.0.0` (every interface).
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run portal test check lint typecheck openapi agent-zipapp bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt --build-constraint constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The web portal (portal/), built when its sources changed; without Node.js it says so and `run` serves the API.
portal: setup
	$(BIN)/python -m tally.serving.portal_build

# Local server on the embedded default (folder warehouse + SQLite under ./var), with demo data on first start.
run: setup portal
	$(BIN)/tally serve --demo --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every lane (tests/support/lanes.py): unit, sql, functional, infra, on moto's server too. Two
# pytest-xdist workers, each test module whole on one (its module fixtures start once); each worker
# has its own temp folder and moto server, and servers take free ports. `make test WORKERS=0` runs
# in one process; WORKERS=auto uses every core.
WORKERS ?= 2
test: setup
	$(BIN)/pytest -q -n $(WORKERS) --dist loadfile

# The fast lane, under two minutes on two cores: lint, types, and the unit and SQL tests less
# those on moto's server and the slow ones.
check: lint
	$(BIN)/pytest -q -m "(unit or sql) and not aws and not slow"

openapi: setup
	$(BIN)/tally openapi -o openapi/openapi.json

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache portal/node_modules portal/dist
