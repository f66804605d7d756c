# Two commands do everything on a fresh machine:
#   make book   create .venv, install, build the HTML book into _build/html (offline)
#   make test   unit tests, nbval (strict) over every notebook in the toc, and a warning-free book build
# Also:
#   make execute [NB=book/path/chapter.ipynb]   re-execute notebooks in place (all toc notebooks by default)
#   make install                                 just the virtual environment

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout 600
export PYTHONHASHSEED := 0

.PHONY: install book test unit nbval build-strict execute clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --keep-going
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: unit nbval build-strict

unit: $(STAMP)
	$(PY) -m pytest tests -q

nbval: $(STAMP)
	@$(PY) tools/notebooks.py stats
	$(PY) -m pytest -q $(NBVAL) $$($(PY) tools/notebooks.py list)

build-strict: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all --warningiserror --keep-going

execute: $(STAMP)
	$(PY) tools/notebooks.py execute $(NB)

clean:
	rm -rf _build
