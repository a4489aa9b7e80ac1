# The two commands of the README: `make demo` (the main job) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench schemas clean i18n system-deps

# The package's own modules byte-compiled once: pip compiles what it installs, but not the sources
# of an editable install, and where PYTHONDONTWRITEBYTECODE=1 is set (containers, CI, this
# project's shared bench machine) every command compiled them again at its start: ~0.1 s of CPU
# of each `explain` and `statement`. A module edited later is recompiled as before (by mtime).
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m compileall -q domain projections replay adapters bench
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ticketledger --data-dir ./ledger-data demo

# Chromium, CJK fonts and poppler for the reports (installed as root when missing, else the
# command to run is printed and make stops)
system-deps:
	@sh .ci/system-deps.sh

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

schemas: $(STAMP)  # docs/schemas/ from domain/events.py (tests/test_stream_schema.py checks they agree)
	$(BIN)/ticketledger schema --out docs/schemas

# Re-extract the messages marked for people and merge them into the Chinese catalog; then
# translate the new empty entries in replay/locale/zh_CN/LC_MESSAGES/ticketledger.po.
I18N_KEYWORDS := -k N_ -k NP_:1c,2 -k plural:1,2
i18n: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg $(I18N_KEYWORDS) --no-location --sort-output --omit-header \
		-o replay/locale/ticketledger.pot domain projections replay adapters
	$(BIN)/pybabel -q update -i replay/locale/ticketledger.pot -d replay/locale -D ticketledger -l zh_CN \
		--no-fuzzy-matching --omit-header --ignore-obsolete --width 0

clean:
	rm -rf ledger-data .pytest_cache
