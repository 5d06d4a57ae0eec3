# Thin targets over python -m coursekit. The first run creates .venv and installs the
# package with its extras; later runs reuse it until pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# PROFILE picks the run profile: `make course` defaults to auto (full with CUDA, else
# lab), `make test` to smoke; `make test PROFILE=full` runs the strict checks.
COURSE_PROFILE := $(or $(PROFILE),auto)
TEST_PROFILE   := $(or $(PROFILE),smoke)

.PHONY: install course test lab site student clean horovod gpu-check

install: $(STAMP)

# The venv alone, with a current pip (.ci/run makes it first, to start Horovod's build early).
$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python >= 3.11 is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

course: $(STAMP) horovod
	$(BIN)/python -m coursekit run --profile $(COURSE_PROFILE)
	@if [ -f docs/conf.py ]; then $(BIN)/python -m coursekit site; fi

# nbval executes notebooks/ first: test_notebook_is_deterministic compares its seed-0 runs with
# papermill's (tests/test_notebooks.py), so no notebook runs a third time for that test.
test: $(STAMP) horovod
	COURSEKIT_PROFILE=$(TEST_PROFILE) COURSEKIT_RESULTS=$(CURDIR)/build/test-results \
		$(BIN)/python -m pytest notebooks tests --nbval-lax --durations=20

# Horovod 0.28.1 built for this venv's torch by tools/build_horovod.sh: minutes once, then
# seconds from a cached wheel, nothing when it is installed. A failed build prints its log's
# path and does not stop `make course`/`make test` (the Horovod tests skip and say why),
# unless COURSEKIT_REQUIRE_HOROVOD=1 (set by CI) makes it an error.
horovod: $(STAMP)
	@PYTHON=$(BIN)/python tools/build_horovod.sh || { \
		if [ "$${COURSEKIT_REQUIRE_HOROVOD:-0}" = 1 ]; then exit 1; fi; \
		echo "make horovod: no Horovod; the rest of the course works without it"; }

# The whole course in the full profile on this machine's GPU, with the GPU-relevant tests, as
# one command: one table of wall time, checks and peak GPU memory (tools/gpu_check.py).
gpu-check: $(STAMP) horovod
	$(BIN)/python tools/gpu_check.py

# The learner's notebooks into build/student/: each exercise's solution a stub (see README).
student: $(STAMP)
	$(BIN)/python -m coursekit student

# The static site from the executed notebooks (no re-execution) into build/site/;
# `make site PROFILE=smoke` picks the profile, else the most complete executed set.
site: $(STAMP)
	$(BIN)/python -m coursekit site $(if $(PROFILE),--profile $(PROFILE))

# JupyterLab on notebooks/, opened at the first lesson; its kernel ("python3") is the .venv's own.
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/01_gradient_descent.ipynb

clean:
	rm -rf build
