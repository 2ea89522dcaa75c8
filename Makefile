# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed

.PHONY: venv install install-test demo test bench docs clean gpu-check gpu-suite

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
# An already installed torch (e.g. a CUDA build a user put there) is left alone.
venv: $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==$(TORCH_VERSION)"

install: venv
	$(PIP) install -q -e .

install-test: venv
	$(PIP) install -q -e ".[test,plot]"

demo: install
	$(PY) benchmarks/demo.py

test: install-test
	OMP_NUM_THREADS=2 $(PY) -m pytest -q -n 2 --dist loadgroup --no-loadscope-reorder

# On a CUDA machine (install its torch build into .venv first): the gpu-marked
# tests and a short GPU benchmark table. Without CUDA both skip cleanly.
gpu-check: install-test
	$(PY) -m pytest -q -m gpu
	$(PY) benchmarks/bench_gpu.py

# On a CUDA machine: the whole non-slow suite with device="auto" resolving to
# CUDA, one line per failure (-rf) kept in gpu-suite.txt. Several minutes.
gpu-suite: install-test
	OMP_NUM_THREADS=2 $(PY) -m pytest -q -m "not slow" -rf -p no:cacheprovider 2>&1 | tee gpu-suite.txt

bench: install
	$(PY) benchmarks/bench_metrics.py

# Runs every example (the gallery) in its default, short mode: several minutes.
# The HTML works offline (MathJax is copied into doc/_build/html/_static/mathjax).
docs: venv
	$(PIP) install -q -e ".[docs,plot]"
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m sphinx -W --keep-going -b html doc doc/_build/html

clean:
	rm -rf $(VENV) build *.egg-info doc/_build doc/auto_examples doc/sg_execution_times.rst
