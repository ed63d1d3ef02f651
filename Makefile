# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Each creates .venv itself; `make demo` installs only what the demo uses. torch is pinned to the CPU wheel in constraints/dev.txt.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYTEST_ARGS ?=

.PHONY: all venv demo test test-fast lint typecheck unit docs bench clean

all: test

# Two install levels in the same .venv.  `make demo` needs only the package with its torch, plot and
# progress extras (~1 GB, about a minute with the torch wheel cached); `make test` adds the development
# stack (jax, keras, ray, lightning, transformers, ... ~3 GB) on top.  pip runs without -q so the set-up
# shows what it is doing: one line per package it collects and installs.
$(DEMO_STAMP): pyproject.toml constraints/dev.txt Makefile
	@echo "==> set-up (demo): creating $(VENV) and installing rampup[torch,plot,progress] (torch is the big one)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check --progress-bar on -c constraints/dev.txt -e '.[torch,plot,progress]'
	@touch $(DEMO_STAMP)
	@echo "==> set-up done: $$(du -sh $(VENV) | cut -f1) in $(VENV)"

$(STAMP): $(DEMO_STAMP)
	@echo "==> set-up (test): adding the development stack to $(VENV): test tools, jax, keras, ray, lightning, transformers, ..."
	$(PIP) install --disable-pip-version-check --progress-bar on -c constraints/dev.txt -e '.[dev,torch,plot,experiments]' \
	    transformers pytorch-warmup jax optax keras lightning accelerate 'ray[tune]' optuna scikit-learn tensorboard
	# timm's scheduler module needs only torch + numpy; its package __init__ pulls torchvision,
	# whose PyPI build does not import beside torch 2.13.0, so timm comes without its deps.
	$(PIP) install --disable-pip-version-check --no-deps -c constraints/dev.txt timm
	# composer (mosaicml) pins torch < 2.13 and imports torchvision and mosaicml-cli: it comes without its deps,
	# with the small pure-python modules its imports need (tests/compat/test_composer.py stands in for torchvision).
	$(PIP) install --disable-pip-version-check --no-deps -c constraints/dev.txt 'mosaicml==0.32.1' \
	    mosaicml-cli 'importlib-metadata<9' zipp coolname tabulate backoff gql graphql-core tenacity websockets \
	    ruamel.yaml questionary prompt_toolkit wcwidth validators
	@touch $(STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	@echo "==> running the demo: rampup demo --out demo-output"
	$(VENV)/bin/rampup demo --out demo-output

lint: $(STAMP)
	$(VENV)/bin/ruff check rampup tests
	$(VENV)/bin/ruff format --check rampup tests
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Two xdist workers on CI's 2 cores; each file's tests stay on one worker (module fixtures, DDP ports).
unit: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

docs: $(STAMP)
	$(PY) docs/gen_plots.py
	$(PY) docs/gen_readme.py --check
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test: lint typecheck unit docs

# The inner loop: every test not marked slow (tests/conftest.py says which files are), plus the layer contracts.
test-fast: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/rampup bench curve

clean:
	rm -rf $(VENV) site demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
