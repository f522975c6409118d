# Guji — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GUJI := $(VENV)/bin/guji
HOST ?= 127.0.0.1
PORT ?= 8000
export GUJI_HOME ?= $(CURDIR)/guji-data
# GUJI_PUBLIC_URL (IIIF ids, permalinks and OAI identifiers start with it) is the address `guji serve`
# listens at unless it is set: set it in the environment when readers use another address.
# What apt-get, pip, npm and loading the samples print goes to build/*.log: `make install` and
# `make run` print one line per step (the log's end when a step fails), the admin password and the address.
SAMPLES_LOG := build/samples.log

# $(call logged,LOG,WHAT,COMMAND): say WHAT is being done, run COMMAND with its output in LOG, then say
# 完成 — or print the end of LOG and stop.
logged = mkdir -p "$(dir $(1))" && printf '%s…' "$(2)" && ( $(3) ) >"$(1)" 2>&1 \
  && echo " 完成" || { status=$$?; echo " 失败（退出码 $$status）。$(1) 的最后 40 行："; \
  tail -n 40 "$(1)"; exit $$status; }

.PHONY: install system run test lint docs bench variants clean

# Debian packages the browser tests and printed outputs need (a real Chromium, CJK fonts;
# fonts-arphic-uming is the TrueType face embedded in PDFs, see repository/outputs/fonts.py);
# lighttpd, iipimage-server and wrk for bench/images.py (wrk also for bench/load.py); the PostgreSQL
# server, which the tests start as a throwaway cluster (tests/postgres_support.py) to run the catalogue
# contract tests on PostgreSQL as well as SQLite, and bench/scale.py.
SYSTEM_PACKAGES := chromium fonts-noto-cjk fonts-arphic-uming lighttpd iipimage-server wrk postgresql

## install: Debian packages, virtualenv with Guji and its test tools (idempotent; CLI at .venv/bin/guji)
install: system $(VENV)/.installed node_modules/.installed

## system: apt-get install what is missing of SYSTEM_PACKAGES (needs root; otherwise says what to install)
system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    $(call logged,build/apt.log,安装 Debian 软件包 $$missing,\
	      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing); \
	  else \
	    echo "缺少 Debian 软件包：" $$missing "—— 请运行：sudo apt-get install" $$missing; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	@$(call logged,build/pip.log,安装 Python 依赖到 $(VENV)（输出记在 build/pip.log）,\
	  { test -x $(PY) || $(PYTHON) -m venv $(VENV); } && \
	  $(PY) -m pip install --disable-pip-version-check --upgrade pip && \
	  $(PY) -m pip install --disable-pip-version-check -e '.[test]')
	@touch $@

# Mirador 4 for /books/{id}/viewer, exactly as package-lock.json pins it (never committed).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && $(call logged,build/apt.log,安装 npm,apt-get install -y npm); } \
	  || { echo "缺少 npm：请运行 sudo apt-get install npm"; exit 1; }
	@$(call logged,build/npm.log,安装阅读器 Mirador 到 node_modules（输出记在 build/npm.log）,\
	  npm ci --omit=peer --ignore-scripts --no-audit --no-fund --loglevel=error)
	@touch $@

## run: install, load the sample collection, serve on http://$(HOST):$(PORT)
## (the first run creates the staff account `admin` and prints its generated password once)
## Safe to run again on a live data home: samples already there (cards, scans, text) are left as
## they are — edits made since are kept — and the log says so; only what is missing is loaded.
run: install
	@$(call logged,$(SAMPLES_LOG),载入示例数据到 $(GUJI_HOME)（已载入过的卡片、影像和全文保持原样；输出记在 $(SAMPLES_LOG)）,\
	  $(GUJI) init && \
	  $(GUJI) cards import samples/cards.json --skip-existing --editor samples --reason "示例数据导入" && \
	  for book in samples/scans/*/; do \
	    $(GUJI) ingest "$$book" --id "$$(basename "$$book")" --skip-existing --editor samples || exit 1; done && \
	  $(GUJI) text import qizheng-tuibu samples/texts/KR3f0006_002.txt --skip-existing --editor samples)
	@$(GUJI) users add admin --role admin --generate-password --if-missing
	@$(GUJI) serve --host $(HOST) --port $(PORT)

## test: lint, the import contracts (the layers, pyproject.toml) and the whole test suite
test: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-logo
	$(PY) -m pytest -q

## docs: regenerate the generated parts of docs/ (the settings table, every command's --help; a test checks them)
docs: $(VENV)/.installed
	$(VENV)/bin/cog -r docs/settings.md docs/cli.md

## bench: the benchmarks (each prints a table and writes bench/results/*.json)
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/cards.py
	$(PY) bench/ingest.py --pages 16 --output ingest-16.json
	$(PY) bench/search.py
	$(PY) bench/images.py --duration 20 --connections 16 --workers 1,2
	$(PY) bench/print.py --cards 2000
	$(PY) bench/load.py --duration 60 --connections 64 --workers 1,2
	$(PY) bench/ocr.py --workers 1,2
	$(PY) bench/scale.py --cards 2000 --revise 500

## variants: regenerate search/variant_table.json (the 異體字 folding of the search key) from Unihan
## (Debian unicode-data), OpenCC and search/variants.json; commit the result, then `guji reindex`
variants: $(VENV)/.installed
	@dpkg -s unicode-data >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq unicode-data; } \
	  || { echo "Unihan is missing: sudo apt-get install unicode-data"; exit 1; }
	$(PY) search/build_variants.py

clean:
	rm -rf $(VENV) guji-data .pytest_cache
