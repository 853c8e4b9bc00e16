# safecity: `make demo` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test serve lint bench lock clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv || true
	# uv installs ~7x faster; plain pip is the fallback so a machine without uv still works.
	if [ -x $(BIN)/uv ]; then \
	  $(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.lock -e . ; \
	else \
	  $(BIN)/python -m pip install --quiet -r requirements.lock -e . ; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/safecity demo

serve: $(STAMP)
	$(BIN)/safecity serve

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/evacuate.py
	$(BIN)/python bench/evacuate_assign.py
	$(BIN)/python bench/detect.py

# Re-resolve the locked dependencies after changing pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra test -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
