# Two commands do everything on a fresh clone:  make demo  /  make test
VENV ?= .venv
PY := $(VENV)/bin/python
GROCERY_ROOT ?= ../shared/datasets/grocery-store
export PRODUCTLENS_GROCERY_ROOT := $(abspath $(GROCERY_ROOT))

.PHONY: demo test test-fast docs bench system-deps clean

# torch==2.13.0 is pinned first: that release is a CPU build here, where a bare `torch`
# requirement would pull a multi-GB CUDA build. It is needed only to export ONNX once.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,test]"
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
system-deps:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

demo: $(VENV)/.installed
	$(PY) examples/grocery_demo.py --root $(GROCERY_ROOT) --catalog demo-catalog

test: $(VENV)/.installed system-deps
	$(PY) -m pytest -q

# The quick tier (< 60 s on 2 cores): a tiny ONNX network built in the tests, the in-memory index,
# no dataset, server or browser. `make test` (what CI runs) still runs everything.
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m fast

# The generated reference pages (docs/cli.md, docs/settings.md); tests/test_docs.py fails when they are stale.
docs: $(VENV)/.installed
	$(PY) scripts/gen_docs.py

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_ingest.py --root $(GROCERY_ROOT)
	$(PY) benchmarks/bench_search.py --root $(GROCERY_ROOT)

clean:
	rm -rf $(VENV) demo-catalog test-artifacts
