# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test bench lint-docker clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sequence-cron demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# Needs the PostgreSQL on 127.0.0.1:5432 (user postgres, trust); pass options with BENCH_ARGS='--large'.
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# hadolint comes with the test extra; docker-compose is Debian's package (apt-get install docker-compose).
lint-docker: $(VENV)/.installed
	$(BIN)/hadolint Dockerfile
	docker-compose -f compose.yaml config --quiet
	docker-compose -f compose.yaml -f compose.dev.yaml config --quiet

clean:
	rm -rf $(VENV) .demo-data .pytest_cache .hypothesis
