# Guji — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GUJI := $(VENV)/bin/guji
HOST ?= 127.0.0.1
PORT ?= 8000
export GUJI_HOME ?= $(CURDIR)/guji-data

.PHONY: install run test lint bench clean

## install: virtualenv with Guji and its test tools (idempotent; CLI at .venv/bin/guji)
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## run: install, load the sample collection, serve on http://$(HOST):$(PORT)
run: install
	$(GUJI) init
	$(GUJI) cards import samples/cards.json --editor samples --reason "示例数据导入"
	$(GUJI) serve --host $(HOST) --port $(PORT)

## test: lint and the whole test suite
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: install
	$(PY) bench/cards.py

clean:
	rm -rf $(VENV) guji-data .pytest_cache
