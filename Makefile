# PasteTrader backend. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.dev-installed-stamp
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
# Runs a command against DATABASE_URL, or an embedded PostgreSQL when it is unset.
WITH_DB := $(BIN)/python -m app.db.embedded --env-var DATABASE_URL --database pastetrader --

.PHONY: install install-dev run worker test lint format typecheck migrate bench screenshots lock clean

# What `make run` needs (requirements.lock); the test, lint and bench tools come on top
# (requirements-dev.lock), so a production install carries no test tools.
install: $(STAMP)

install-dev: $(DEV_STAMP)

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "pastetrader.pth").write_text(str(pathlib.Path("backend").resolve()) + "\n")'
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PIP_INSTALL) -r requirements-dev.lock
	touch $(DEV_STAMP)

run: install
	ENVIRONMENT=$${ENVIRONMENT:-development} $(WITH_DB) sh -c '$(BIN)/alembic upgrade head && exec $(BIN)/uvicorn app.main:app --host 127.0.0.1 --port 8000'

# One more worker beside `make run` (same database, embedded or DATABASE_URL).
worker: install
	ENVIRONMENT=$${ENVIRONMENT:-development} $(WITH_DB) $(BIN)/python -m app.worker

test: install-dev
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90
	$(BIN)/coverage report --include='backend/app/models/*' --fail-under=95

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install-dev
	$(BIN)/mypy

migrate: install
	$(WITH_DB) $(BIN)/alembic upgrade head

# Figures, not tests: the engine beside APScheduler 3.11 + SQLAlchemyJobStore (ARGS=--help),
# then the API's latency and throughput with 1,000,000 schedules, then the workflow runtime
# beside pgqueuer's own ceiling.
bench: install-dev
	$(WITH_DB) $(BIN)/python backend/bench/scheduler.py $(ARGS)
	$(WITH_DB) $(BIN)/python backend/bench/api.py
	$(WITH_DB) $(BIN)/python backend/bench/runtime.py

# The README's console screenshots, taken by the browser tests.
screenshots: install-dev
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest -q backend/tests/browser/test_console.py -k "seoul or pause_with"

lock: install-dev
	$(BIN)/uv pip compile pyproject.toml --extra embedded --universal --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pgdata .pytest_cache .mypy_cache .ruff_cache .coverage
