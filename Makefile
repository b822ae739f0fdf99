# codekd set-up. Every target works on a fresh machine with only Python 3.10+ and network
# access to PyPI. torch is installed first, pinned to the CPU build, so no dependency can
# pull a multi-GB CUDA build.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.codekd-installed
TORCH  ?= torch==2.13.0

# Keep every library cache and side effect inside the project.
export HF_HOME              := $(CURDIR)/.cache/huggingface
export HF_HUB_OFFLINE       := 1
export HF_DATASETS_OFFLINE  := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_AUTH_MODE        := disabled
export ORT_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install test demo clean help

help:
	@echo "make install   create $(VENV) and install codekd with its dev extras"
	@echo "make test      run the whole test suite (installs first if needed)"
	@echo "make demo      run the main job (installs first if needed)"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests

demo: $(STAMP)
	$(VENV)/bin/codekd demo

clean:
	rm -rf $(VENV) .cache build dist src/*.egg-info
