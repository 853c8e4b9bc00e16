# safecity: `make demo` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test serve lint bench lock clean assets browser

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv || true
	# uv installs ~7x faster; plain pip is the fallback so a machine without uv still works. Bytecode is
	# compiled at install (uv does not by default; pip does): where PYTHONDONTWRITEBYTECODE is set, every
	# process would otherwise compile its imports again (a server start took > 60 s on a loaded machine).
	if [ -x $(BIN)/uv ]; then \
	  $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock -e . ; \
	else \
	  $(BIN)/python -m pip install --quiet -r requirements.lock -e . ; \
	fi
	$(BIN)/safecity assets fetch
	touch $(STAMP)

# Leaflet and uPlot from the npm registry (src/safecity/web/assets.toml), integrity-checked; a no-op when
# the files are present and unchanged, so it also repairs a deleted static/vendor/ after the venv exists.
assets: $(STAMP)
	$(BIN)/safecity assets fetch

demo: assets
	$(BIN)/python -m compileall -q src
	$(BIN)/safecity demo

serve: assets
	$(BIN)/safecity serve

# The browser tests drive Debian's Chromium (never a downloaded browser). Installed here when missing and
# we may (root with apt-get); otherwise the hint, and tests/e2e skips (fails under SAFECITY_REQUIRE_SERVICES=1).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y --no-install-recommends chromium fonts-nanum || { apt-get update && apt-get install -y --no-install-recommends chromium fonts-nanum; }; \
	  else \
	    echo "chromium is missing: sudo apt-get install chromium fonts-nanum (the browser tests skip without it)" >&2; \
	  fi; \
	fi

# pytest-xdist: one worker per core, each test file on one worker (its module fixtures built once);
# PYTEST_ARGS='-n 0' runs everything in one process.
test: assets browser
	$(BIN)/python -m compileall -q src  # our own bytecode, for the many processes the tests start
	$(BIN)/python -m pytest -q -n auto --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/evacuate.py
	$(BIN)/python bench/evacuate_assign.py
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/quality.py

# Re-resolve the locked dependencies after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
