# The two README commands: `make demo` and `make test`. Each one sets itself up from scratch.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# On Linux the default index's torch is the CUDA build (several GB); PyTorch's CPU index serves the CPU build.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-fast fuzz gpu-check lint install browser docs docs-serve clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# A plain `torch` requirement pulls a multi-GB CUDA build; take the CPU build where no GPU is present.
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then \
		echo "CUDA found: installing the default torch build"; $(PY) -m pip install -q "torch>=2.4,<3"; \
	else \
		echo "no CUDA: installing a CPU build of torch (PyTorch's CPU index first, then the default index)"; \
		$(PY) -m pip install -q --timeout 20 --retries 1 --index-url $(TORCH_CPU_INDEX) "torch==2.13.0" \
			|| $(PY) -m pip install -q "torch==2.13.0"; \
	fi
	$(PY) -m pip install -q -e ".[all,dev,docs]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/sentinel demo --out demo-out

# tests/report/test_report_browser.py opens report.html in headless Chromium. Where no Chromium is on PATH and apt-get can
# install packages (root on Debian), install Debian's `chromium`; otherwise that test skips and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| command -v google-chrome >/dev/null 2>&1 || [ -n "$$SENTINEL_CHROMIUM" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (apt-get) for the report browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "could not install chromium: the report browser test will skip"; \
	else \
		echo "no Chromium and no usable apt-get: the report browser test will skip"; \
	fi

# pytest-xdist workers for `make test` and `make test-fast` (one torch thread each): whole test files are the units,
# handed out in the order tests/conftest.py sets, so one worker starts the shared lab models while the other runs the
# rest. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

# The whole suite (the README's command and CI's): fast tests and the slow ones that train tiny models.
test: install browser
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 $(XDIST) tests

# The everyday loop: every test not marked slow (no model training beyond a few steps).
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" $(XDIST) tests

# The fuzz tests (marked fuzz: readers, YAML configs, scan detectors, the endpoint client, the report outputs) with the `fuzz` Hypothesis
# profile of tests/conftest.py: 1,000 fresh examples per target instead of `make test`'s fixed 25.
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider -m fuzz $(XDIST) tests

# The GPU-relevant tests (tests/gpu: the CUDA device, bf16, SFT, PPO and GRPO steps, two processes under
# `accelerate launch` where two GPUs exist) in under 5 minutes, for a GPU machine; without CUDA it says so and skips.
gpu-check: install
	@if $(PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then \
		timeout 300 $(PY) -m pytest -q -p no:cacheprovider -rs -m gpu tests/gpu; \
	else \
		echo "gpu-check skipped: no CUDA device here (torch $$($(PY) -c 'import torch; print(torch.__version__)'), torch.cuda.is_available() is False)"; \
	fi

# ruff (style and bugs), import-linter (no lower layer imports a higher one), mypy (the package's types)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml): built into site/ with --strict, so a broken link, a missing page or an API
# reference to a name that does not exist fails the build. docs-serve rebuilds on every change at http://127.0.0.1:8000.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

clean:
	rm -rf $(VENV) demo-out site *.egg-info
