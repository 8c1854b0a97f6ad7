# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml scripts/setup-dev
	bash scripts/setup-dev $(VENV)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tdmcrawl demo --out demo-out

test: lint typecheck
	TDMCRAWL_PYWB_BIN=$(abspath $(VENV))-pywb/bin $(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy on the pure libraries under their installed names: the repository folders map to
# tdmcrawl.* (see pyproject.toml), which mypy cannot follow through the editable install.
typecheck: $(STAMP)
	rm -rf .typecheck && mkdir -p .typecheck/tdmcrawl
	for p in optout dedup registry; do ln -s ../../$$p .typecheck/tdmcrawl/$$p; done
	MYPYPATH=.typecheck $(VENV)/bin/mypy -p tdmcrawl.optout -p tdmcrawl.dedup -p tdmcrawl.registry

bench: $(STAMP)
	$(PY) -m pip install -q robotspy fast-robotstxt rensa pyinstrument
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(VENV)-pywb demo-out .typecheck
