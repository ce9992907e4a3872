# The two Quick-start commands (`make lab`, `make test`) and what they share.
# Everything installs into ./.venv so nothing touches the system Python.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# On Linux, PyPI's torch wheel bundles CUDA (several GB); PyTorch's CPU index has the same
# release without it (2.13.0+cpu satisfies the pin torch==2.13.0). It is used when reachable;
# `make setup TORCH_INDEX=` skips it (machines with a local CPU wheel, mirrors).
TORCH_INDEX ?= $(if $(filter Linux,$(shell uname -s)),https://download.pytorch.org/whl/cpu)

.PHONY: setup lab test bench lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, this is " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing the pinned packages into $(VENV): a few hundred MB to download, 1.8 GB installed, a few minutes the first time"
	@index=""; \
	if [ -n "$(TORCH_INDEX)" ] && $(PY) -c "import urllib.request as r; r.urlopen('$(TORCH_INDEX)/torch/', timeout=5)" 2>/dev/null; then \
	  index="--extra-index-url $(TORCH_INDEX)"; echo "torch: the CPU-only build from $(TORCH_INDEX)"; \
	elif [ -n "$(TORCH_INDEX)" ]; then \
	  echo "torch: $(TORCH_INDEX) is not reachable; taking torch from the default index"; \
	fi; \
	$(PY) -m pip install --quiet -r requirements.txt $$index
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

# The package, the tests and the notebooks' code (pyproject.toml says what is formatted).
lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

# Everything the targets and tools above create; data folders and notebooks are left alone.
clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache test-artifacts build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
