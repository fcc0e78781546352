# Two commands: `make run` (try it on SQLite with demo data) and `make test` (every test,
# on SQLite and PostgreSQL). Both install what they need into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test fuzz lint install install-test translations translations-update browser \
	clean audit audit-refresh docker docker-secrets bench bench-inprocess

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations browser

# Real-browser tests drive Debian's chromium (never a browser download), and the
# container's reverse-proxy test runs Debian's caddy: each installed with apt only when
# missing. Without apt or root, say how and go on; those tests then skip, saying so.
TEST_TOOLS = /usr/bin/chromium:chromium /usr/bin/caddy:caddy
browser:
	@missing=""; for tool in $(TEST_TOOLS); do \
		[ -x "$${tool%%:*}" ] || missing="$$missing $${tool##*:}"; done; \
	if [ -z "$$missing" ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "make browser: no apt-get: install$$missing for the browser and proxy tests" >&2; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "make browser: as root run: apt-get update && apt-get install -y$$missing" >&2; \
	else \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

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

# The two demo platforms (127.0.0.1:5001 and :5002) run in the background while the
# provider serves in the foreground; Ctrl-C (or make's end) stops them as well.
run: install
	$(BIN)/idp db upgrade
	$(BIN)/idp demo
	$(BIN)/idp demo platforms & platforms=$$!; \
	trap 'kill $$platforms 2>/dev/null' EXIT INT TERM; \
	$(BIN)/idp run --host $(HOST) --port $(PORT)

lint: install-test
	$(BIN)/ruff check idp consent clients tests
	$(BIN)/mypy idp consent clients

# Two worker processes (pytest-xdist), each on databases of its own: IDP_TEST_POSTGRES_URL's
# database with _gw0 or _gw1 appended, made when missing, and IDP_TEST_REDIS_URL's Redis
# database and the next (or the URLs it lists, one per worker). TEST_WORKERS=0: one process.
# The slowest tests are named at the end (--durations): where the suite's time goes.
TEST_WORKERS ?= 2
test: install-test lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 \
		--cov --cov-report=term:skip-covered $(PYTEST_ARGS)

# The fuzz test at length and at random (make test runs it short and the same each time):
# FUZZ_EXAMPLES requests to each of its 24 targets, on each database backend.
FUZZ_EXAMPLES ?= 420
fuzz: install-test
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz \
		-p no:cacheprovider $(PYTEST_ARGS)

# What each operation costs under the production command on PostgreSQL and Redis, beside
# a bare Flask app under the same server (tests/bench; dated results in
# tests/bench/RESULTS.md): e.g. BENCH_ARGS="--servers gunicorn-sync,gunicorn-gthread,granian",
# "--travellers 1000,1000000" (growth), "--memory 100000" (worker RSS), "--markdown
# tests/bench/RESULTS.md". make test runs a smoke.
bench: install-test
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

# The provider's own CPU per platform request, the app called in process on PostgreSQL
# (no server, no network): steadier than the server bench for changes of a tenth of a
# millisecond, e.g. BENCH_ARGS="--requests 3000 --rounds 3". make test runs a smoke.
bench-inprocess: install-test
	$(BIN)/python -m tests.bench.inprocess $(BENCH_ARGS)

# Known vulnerabilities in every installed package, without the internet: pip-audit asks
# a local OSV service (tests/osv_local.py) over the advisories in $(AUDIT_DB), which
# `make audit-refresh` renews where the network reaches them (README, Security).
AUDIT_DB ?= instance/advisories
AUDIT_URL ?= https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip
audit: install-test
	$(BIN)/python -m tests.osv_local --db $(AUDIT_DB) -- \
		$(BIN)/pip-audit --skip-editable --progress-spinner off --desc on

audit-refresh:
	mkdir -p $(AUDIT_DB)
	curl -fsSL -o $(AUDIT_DB)/PyPI.zip.part $(AUDIT_URL) && mv $(AUDIT_DB)/PyPI.zip.part $(AUDIT_DB)/PyPI.zip

# --- The container (docker/) ------------------------------------------------------------
# Build the image and smoke-test the compose stack through its TLS proxy: /healthz and
# /readyz answer over https, checked against Caddy's local CA. Needs a running container
# engine with compose v2; where none runs it says so and fails. The tests start the same
# entrypoint and gunicorn configuration without an engine (tests/docker).
COMPOSE ?= docker compose -f docker/compose.yaml
DOCKER_URL ?= https://localhost:8443
docker-secrets:
	sh docker/secrets/generate.sh

docker:
	@docker info >/dev/null 2>&1 || { echo "make docker: no container engine answers (docker info failed): start Docker, then run make docker again" >&2; exit 1; }
	@$(COMPOSE) version >/dev/null 2>&1 || { echo "make docker: docker compose v2 is missing" >&2; exit 1; }
	sh docker/secrets/generate.sh
	$(COMPOSE) build
	mkdir -p instance
	status=0; $(COMPOSE) up -d --wait --wait-timeout 180 || status=$$?; \
	if [ $$status -eq 0 ]; then \
		$(COMPOSE) exec -T proxy cat /data/caddy/pki/authorities/local/root.crt > instance/docker-ca.crt; \
		for path in healthz readyz; do \
			curl -fsS --cacert instance/docker-ca.crt --retry 10 --retry-all-errors --retry-delay 1 \
				"$(DOCKER_URL)/$$path" || status=1; echo; \
		done; \
	fi; \
	[ $$status -eq 0 ] || $(COMPOSE) logs --tail 50; \
	$(COMPOSE) down; exit $$status

clean:
	rm -rf $(VENV) instance .pytest_cache .coverage
