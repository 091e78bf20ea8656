# sam2_ros: the two commands a new user needs, `make test` and `make demo`.
# Both set up .venv/ by themselves (scripts/bootstrap.sh); nothing else has to be done first.

# PyPI's ROS 2 wheels to test against: ROS_DISTRO=jazzy (typed, or set by sourcing
# /opt/ros/jazzy/setup.bash) uses Jazzy's in .venv-jazzy/; anything else (unset, kilted,
# humble, ...) uses Kilted's in .venv/. See README "Tests".
ifeq ($(ROS_DISTRO),jazzy)
VENV   := .venv-jazzy
else
VENV   := .venv
endif
PY     := $(VENV)/bin/python
# A sourced ROS install puts its own rclpy, libraries and CMake packages on these paths, which
# would shadow the venv's; with ROS_DISTRO or AMENT_PREFIX_PATH set, they are kept from every
# command here (the venv's Python sets its own library path).
ifneq ($(ROS_DISTRO)$(AMENT_PREFIX_PATH),)
unexport PYTHONPATH LD_LIBRARY_PATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH _ROS_WHEELS_BOOTSTRAP_COMPLETE
endif
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: all venv test lint pytest demo bench clean gpu-wheels gpu-check

all: test

venv:
	bash scripts/bootstrap.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS)

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

demo: venv
	$(PY) -m sam2_ros.demo $(DEMO_ARGS)

bench: venv
	$(PY) -m sam2_core.bench --model sam2.1_hiera_tiny --frames 8 --objects 1,3 --device cpu --compare-reference

# The prepared check for a lent GPU machine (no venv, no network there): fill .whl/ here first
# with `make gpu-wheels`, then run `make gpu-check` there as one device call carrying .whl.
# `make gpu-check GPU_CHECK_ARGS=--dry-run` runs the same stages here on the CPU at tiny sizes.
gpu-wheels: venv
	bash scripts/gpu_wheels.sh

gpu-check:
	bash scripts/gpu_check.sh $(GPU_CHECK_ARGS)

clean:
	rm -rf build demo_output .pytest_cache .ruff_cache
