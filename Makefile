# Two commands set everything up on a fresh machine with only python3 (3.11+):
#   make run    create .venv, install requirements.txt, start the app on the embedded offline data, its runs
#               training in worker processes (a classroom's server; EDL_TRAIN_IN_PROCESSES=0: in its threads)
#   make test   also install requirements-dev.txt, check formatting and lint (ruff), then run the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test bench clean format

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENV)/.ray: $(VENV)/.dev requirements-ray.txt
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $@

run: $(VENV)/.runtime
	EDL_TRAIN_IN_PROCESSES=$${EDL_TRAIN_IN_PROCESSES:-1} $(PY) -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) tests/artifacts bench/results

format: $(VENV)/.dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
