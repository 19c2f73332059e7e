# Two entry points, both safe on a fresh clone: they create .venv and install exactly the lock.
#   make demo   chat with the bot in this terminal (SQLite under ./data, demo factories)
#   make test   ruff, mypy and the test suite
#   make lock   refresh uv.lock (and requirements/bootstrap.txt) after changing pyproject.toml
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := $(VENV)/.tools
# uv installs into this venv, never downloads a Python of its own, and fails rather than
# change the lock: a pyproject.toml edited without `make lock` stops here with uv's reason.
# It compiles the bytecode as it installs (uv does not by default), so the first start does
# not compile 600 modules, nor every start where PYTHONDONTWRITEBYTECODE is set.
UV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 $(BIN)/uv
QUIET_PIP := --quiet --disable-pip-version-check --no-input

.PHONY: demo chat test lint bench lock font

# pip, setuptools, wheel and uv come first, pinned with hashes (exported from the lock)...
$(TOOLS): requirements/bootstrap.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(QUIET_PIP) --require-hashes --no-deps \
		-r requirements/bootstrap.txt
	touch $(TOOLS)

# ...then uv installs everything else exactly as uv.lock says, and removes what it does not.
$(STAMP): $(TOOLS) pyproject.toml uv.lock
	$(UV) sync --quiet --locked --extra test
	$(BIN)/python -m compileall -q ffs_bot handlers bot
	touch $(STAMP)

# Report charts draw Chinese; as root this installs a font, otherwise it says which to install.
font:
	@PYTHON=$(PYTHON) scripts/cjk-font

demo: font $(STAMP)
	$(BIN)/ffs-bot demo

chat: $(STAMP)
	$(BIN)/ffs-bot chat

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: font lint
	$(BIN)/pytest

lock: $(TOOLS)
	$(UV) lock --upgrade
	$(UV) export --quiet --locked --only-group venv --no-emit-project --no-header \
		--format requirements.txt -o requirements/bootstrap.txt

bench: $(STAMP)
	$(BIN)/python bench/console_roundtrip.py
