# Every target sets itself up: a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

DEMO_ARGS ?= --env MountainCarContinuous-v0 \
	--task "drive the car up the right hill and reach the flag" \
	--fitness reach_flag --iterations 2 --samples 4 --timesteps 20000 --final-seeds 2 --offline

.PHONY: demo test serve bench lint system clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ray]'
	touch $(STAMP)

system:
	bash scripts/setup_system.sh

demo: $(STAMP)
	$(BIN)/rewardforge run $(DEMO_ARGS)

test: $(STAMP) system
	$(BIN)/pytest -q -ra --durations=25 -n 2

serve: $(STAMP)
	$(BIN)/rewardforge serve

bench: $(STAMP)
	$(BIN)/python bench/overhead.py

lint: $(STAMP)
	$(BIN)/ruff check app sandbox envs tests bench
	$(BIN)/mypy app

clean:
	rm -rf $(VENV) data test-artifacts
