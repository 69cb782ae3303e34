# Every target bootstraps its own environment: uv (installed into .tools/ when missing), then the locked
# dependencies from uv.lock. Nothing outside the repository is touched beyond uv's cache.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# No interpreter downloads: uv uses the machine's Python (3.11+).
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
RUN := $(UV) run --frozen --no-sync

.PHONY: help env demo test test-under-load test-fast test-oldest matrix-lock lint bench reliability clean

help:
	@echo "make demo   run the whole model lifecycle on the local AWS stand-in"
	@echo "make test   run the test suite (unit, stand-in, end-to-end, browser)"
	@echo "make test-under-load  the same while a bounded CPU hog keeps every core busy"
	@echo "make test-oldest  the tests that exercise Airflow's interfaces, on the oldest supported Airflow"
	@echo "make lint   ruff and mypy"
	@echo "make bench  run the benchmarks and print the comparisons (results in BENCHMARKS.md)"
	@echo "make reliability  run the reliability suite alone and write RELIABILITY.md"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# Always synced (a no-op when nothing changed): make bench installs another group into the same .venv.
# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines), every
# Python process would otherwise compile each module it imports from source, every time; an Airflow
# import then costs twice the CPU, in every test worker and every Airflow process of the end-to-end tests.
SYNC := $(UV) sync --frozen --compile-bytecode
env: | $(UV)
	$(SYNC)

demo: env
	$(RUN) python -m airflow_modelreg.demo

# Three processes on two cores: many tests wait on something (botocore's backoff under injected faults,
# endpoint transitions, a live Airflow), so a third keeps the CPU busy meanwhile. Every live-Airflow (e2e)
# test runs on one of them (the xdist group "live"), so one live Airflow serves the session.
XDIST := -n 3 --dist loadgroup

# The version matrix: the locked environment of the oldest versions pyproject.toml declares
# (tests/matrix/oldest.txt, written by make matrix-lock) in .venv-oldest, with this package installed
# editable. It runs the tests that exercise Airflow's interfaces (operators, sensors, triggers, hooks, the
# reference DAGs through dag.test, the provider's registration, the DAG processor's parse); the domain
# modules import no Airflow, and the stand-in's and e2e tests run on the lock's versions above.
OLDEST := .venv-oldest
MATRIX_TESTS := tests/operators tests/sensors tests/triggers tests/hooks tests/notifications tests/links \
	tests/test_provider.py tests/test_preload.py tests/test_reference_dags.py tests/test_drift_dags.py
$(OLDEST)/.synced: tests/matrix/oldest.txt | $(UV)
	$(UV) venv --quiet --allow-existing $(OLDEST)
	$(UV) pip sync --quiet --compile-bytecode --python $(OLDEST) tests/matrix/oldest.txt
	$(UV) pip install --quiet --no-deps --python $(OLDEST) -e .
	touch $@

OLDEST_PYTEST := $(OLDEST)/bin/python -m pytest -n 2 -m "not e2e and not browser" -p no:cacheprovider \
	$(MATRIX_TESTS)

# make test answers 3 approvals per delay in the timing test (make test-under-load: the full ten). Beside it
# runs the version matrix (make test-oldest) at a low priority: the suite leaves about a third of the two
# cores idle (its end-to-end tests wait on a live Airflow), which the matrix takes without slowing the
# suite; its output follows the suite's.
test: env $(OLDEST)/.synced
	@nice -n 15 $(OLDEST_PYTEST) > .test-oldest.log 2>&1 & oldest=$$!; \
	$(RUN) pytest $(XDIST) --approval-timing-runs=3 $(PYTEST_ARGS); suite=$$?; \
	wait $$oldest; matrix=$$?; \
	echo "== the same interfaces on the oldest supported Airflow (make test-oldest) =="; cat .test-oldest.log; \
	exit $$(( suite != 0 || matrix != 0 ))

test-oldest: $(OLDEST)/.synced
	$(OLDEST_PYTEST) $(PYTEST_ARGS)

matrix-lock: | $(UV)
	$(PYTHON) tests/matrix/lock_oldest.py $(UV)

# The suite on a busy machine: one busy process per core for the whole run (stopped at the end, and by
# itself after --cpu-hog-minutes), so timing assumptions show up as failures.
test-under-load: env
	$(RUN) pytest $(XDIST) --cpu-hog $(PYTEST_ARGS)

test-fast: env
	$(RUN) pytest -m "not e2e and not browser" $(PYTEST_ARGS)

lint: env
	$(RUN) ruff check src tests dags bench
	$(RUN) ruff format --check src tests dags bench
	$(RUN) mypy

reliability: env
	$(RUN) pytest -m reliability $(PYTEST_ARGS)
	$(RUN) python -m tests.reliability.report

bench: | $(UV)
	$(SYNC) --no-default-groups --group bench --extra standin
	$(RUN) python -m bench

clean:
	rm -rf .venv .venv-oldest .tools .pytest_cache .ruff_cache .mypy_cache
