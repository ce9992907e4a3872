# The two Quick-start commands (`make lab`, `make test`) and what they share.
# Everything installs into ./.venv so nothing touches the system Python.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup lab test bench lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, this is " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Opens the lessons; JupyterLab keeps its token authentication and listens on localhost only.
# Containers often run as root, which JupyterLab refuses unless told it is deliberate.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 $(ROOT_FLAG) notebooks/

# The whole suite: unit tests plus every notebook executed by nbval.
test: setup
	LESSONS_QUIET=1 $(PY) -m pytest --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg

bench: setup
	$(PY) -m lessons.bench

lint: setup
	$(VENV)/bin/ruff format --check lessons tests
	$(VENV)/bin/ruff check lessons tests

clean:
	rm -rf $(VENV)
