# Two commands: `make run` (try it on SQLite with demo data) and `make test` (every test,
# on SQLite and PostgreSQL). Both install what they need into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint install install-test translations translations-update browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations

translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d idp/translations

# After changing words in the code or templates: re-extract, then update the fr and en
# catalogues. New words stay untranslated (shown in English) rather than fuzzy guesses,
# which `translations` would compile. The virtualenv is never scanned.
translations-update: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --project="Mobility ID" \
		--ignore-dirs='.* ._ $(notdir $(VENV))' -o idp/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching -D messages \
		-i idp/translations/messages.pot -d idp/translations

run: install
	$(BIN)/idp db upgrade
	$(BIN)/idp demo
	$(BIN)/idp run --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check idp consent clients tests
	$(BIN)/mypy idp consent clients

test: install-test lint
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .coverage
