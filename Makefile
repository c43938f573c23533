# The two set-up commands of the README. Each builds what it needs and
# reuses what an earlier run built (stamps inside .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-demo: setup.py | $(PY)
	$(PIP) -e ".[text,demo]"
	touch $@

# torch only serves the reference-weight converter's test and the PyTorch side
# of benchmarks/train_step; the pinned CPU build installs from a local file on
# the project's machines. The musicnn wheel is the reference of
# tests/test_musicnn.py and benchmarks/musicnn.py; its metadata pins
# numpy < 1.17, hence --no-deps. Where either cannot install, those tests skip.
$(VENV)/.stamp-test: setup.py | $(PY)
	$(PIP) -e ".[test]"
	-$(PIP) torch==2.13.0
	-$(PIP) --no-deps musicnn==0.1.0
	touch $@

# fluidsynth and a small General-MIDI soundfont render the demo corpus; without
# them (no root, no apt) era_zoo falls back to its own pure-Python synthesizer.
system-deps:
	@bash tools/system_deps.sh

demo: $(VENV)/.stamp-demo system-deps
	$(VENV)/bin/era-zoo demo

test: $(VENV)/.stamp-test system-deps
	$(PY) -m pytest -n 2 -q tests

clean:
	rm -rf $(VENV) build *.egg-info
