# Guji — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GUJI := $(VENV)/bin/guji
HOST ?= 127.0.0.1
PORT ?= 8000
export GUJI_HOME ?= $(CURDIR)/guji-data
# IIIF ids, permalinks and OAI identifiers start with it: the address `make run` serves at
export GUJI_PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: install system run test lint bench variants clean

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
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages:" $$missing "— run: sudo apt-get install" $$missing; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Mirador 4 for /books/{id}/viewer, exactly as package-lock.json pins it (never committed).
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq npm; } \
	  || { echo "npm is missing: sudo apt-get install npm"; exit 1; }
	npm ci --omit=peer --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## run: install, load the sample collection, serve on http://$(HOST):$(PORT)
## (the first run creates the staff account `admin` and prints its generated password once)
## Safe to run again on a live data home: samples already there (cards, scans, text) are left as
## they are — edits made since are kept — and each step says so; only what is missing is loaded.
run: install
	$(GUJI) init
	@echo "载入示例数据（已载入过的卡片、影像和全文保持原样，不会覆盖之后的修改）"
	$(GUJI) cards import samples/cards.json --skip-existing --editor samples --reason "示例数据导入"
	for book in samples/scans/*/; do \
	  $(GUJI) ingest "$$book" --id "$$(basename "$$book")" --skip-existing --editor samples || exit 1; done
	$(GUJI) text import qizheng-tuibu samples/texts/KR3f0006_002.txt --skip-existing --editor samples
	$(GUJI) users add admin --role admin --generate-password --if-missing
	$(GUJI) serve --host $(HOST) --port $(PORT)

## test: lint and the whole test suite
test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

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
