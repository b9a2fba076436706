# `make chat` and `make test` work on a fresh machine: they create .venv/, install the pinned
# dependencies, assemble and verify the default model, build the index, then serve or test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# llama.cpp: never -march=native (some virtual CPUs advertise AMX tiles they cannot run, which
# crashes on long prompts). Use AVX-512 where the CPU has it, else the AVX2 set; AVX-VNNI only where
# the CPU has that too (AMD's AVX-512 CPUs may not).
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
ifneq (,$(and $(findstring avx512f,$(CPU_FLAGS)),$(findstring avx512_vnni,$(CPU_FLAGS)),$(findstring avx512_bf16,$(CPU_FLAGS))))
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
ifneq (,$(findstring avx_vnni,$(CPU_FLAGS)))
LLAMA_CMAKE_ARGS += -DGGML_AVX_VNNI=ON
endif
endif

export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install models index chat test browser ocr clean-index

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

models: install
	$(BIN)/rag models fetch default

index: models
	$(BIN)/rag index

chat: index
	$(BIN)/rag ui --host 127.0.0.1 --port 7860

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser offline).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Scanned pages and images are read by Debian's Tesseract (with its English data).
ocr:
	@if ! command -v tesseract >/dev/null || [ ! -d /usr/share/tesseract-ocr ] || \
	    ! ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; \
	fi

test: models browser ocr
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

clean-index:
	rm -rf index/
