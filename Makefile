# Two commands set up everything: `make run` (serve with demo data) and `make test`.
# With DATABASE_URL / CELERY_BROKER_URL set, both use Postgres and the broker instead of
# the embedded defaults (SQLite, tasks in-process).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test worker beat web lint format bench bench-venv clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

run: export SITE_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@# Last before the server, so that the login and token are not scrolled away.
	$(BIN)/python manage.py setup_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# The production processes (the same scripts docker-compose runs).
web: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH scripts/web

worker: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH scripts/worker

beat: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH scripts/beat

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports  # the layers' import contracts ([tool.importlinter] in pyproject.toml)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The peers the benchmarks run side by side with the service (MLflow's tracking server), in a
# venv of their own.
BENCH_STAMP := .bench-venv/.installed
$(BENCH_STAMP): requirements-bench.txt
	test -x .bench-venv/bin/python || $(PYTHON) -m venv .bench-venv
	.bench-venv/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench-venv: $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.api
	$(BIN)/python -m benchmarks.sweep
	$(BIN)/python -m benchmarks.pages
	$(BIN)/python -m benchmarks.detection
	$(BIN)/python -m benchmarks.mcnemar
	$(BIN)/python -m benchmarks.outcomes
	$(BIN)/python -m benchmarks.experiments

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache .import_linter_cache
