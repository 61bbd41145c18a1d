# Campaign Studio. `make run` serves the app; `make test` runs everything CI runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint messages bench vendor clean

run: $(VENV)/.runtime
	scripts/run.sh

test: $(VENV)/.dev
	scripts/test.sh

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

# Refresh the zh-hans catalogue after adding strings; then translate what is new.
messages: $(VENV)/.runtime
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=static/vendor --ignore=tests

bench: $(VENV)/.dev
	scripts/bench.sh

vendor:
	scripts/vendor.sh

clean:
	rm -rf $(VENV) staticfiles

$(PY):
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.runtime: pyproject.toml scripts/deps.py | $(PY)
	$(PY) scripts/deps.py | $(VENV)/bin/pip install -q --disable-pip-version-check -r /dev/stdin
	touch $@

$(VENV)/.dev: pyproject.toml scripts/deps.py | $(PY)
	$(PY) scripts/deps.py dev | $(VENV)/bin/pip install -q --disable-pip-version-check -r /dev/stdin
	touch $@ $(VENV)/.runtime
