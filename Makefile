# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml scripts/setup-dev
	bash scripts/setup-dev $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tdmcrawl demo --out demo-out

test: $(STAMP)
	$(VENV)/bin/ruff check .
	TDMCRAWL_PYWB_BIN=$(abspath $(VENV))-pywb/bin $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m pip install -q robotspy fast-robotstxt rensa resiliparse
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out
