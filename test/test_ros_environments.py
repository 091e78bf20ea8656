# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Which ROS 2 wheels `make test` uses: ROS_DISTRO picks the venv, and a sourced ROS install's paths stay out of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
probe:
\t@echo "VENV=$(VENV)"
\t@echo "PYTHONPATH=$${PYTHONPATH-unset}"
\t@echo "AMENT_PREFIX_PATH=$${AMENT_PREFIX_PATH-unset}"
\t@echo "LD_LIBRARY_PATH=$${LD_LIBRARY_PATH-unset}"
\t@echo "GUARD=$${_ROS_WHEELS_BOOTSTRAP_COMPLETE-unset}"
\t@echo "RCLPY=$$($(PY) -c 'import rclpy; print(rclpy.__file__)' 2>&1 | tail -1)"
"""
SOURCED = ("ROS_DISTRO", "AMENT_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "CMAKE_PREFIX_PATH",
           "COLCON_PREFIX_PATH", "_ROS_WHEELS_BOOTSTRAP_COMPLETE", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")  # fmt: skip


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any ROS or make settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if k not in SOURCED}
    return {**env, **settings}


def make_probe(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    probe = tmp_path / "probe.mk"
    probe.write_text(PROBE)
    out = subprocess.run(
        ["make", "-s", "-f", "Makefile", "-f", str(probe), "probe"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def bootstrap_venv(env: dict[str, str]) -> str:
    out = subprocess.run(["bash", "scripts/bootstrap.sh", "--print-venv"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize(
    "distro, venv",
    [(None, ".venv"), ("kilted", ".venv"), ("humble", ".venv"), ("rolling", ".venv"), ("jazzy", ".venv-jazzy")],
)
def test_ros_distro_picks_the_venv_in_make_and_in_the_bootstrap_alike(tmp_path, distro, venv):
    env = clean_env() if distro is None else clean_env(ROS_DISTRO=distro)
    assert make_probe(tmp_path, env)["VENV"] == venv
    assert bootstrap_venv(env) == venv


def test_without_a_sourced_ros_the_environment_is_passed_on_unchanged(tmp_path):
    seen = make_probe(tmp_path, clean_env(PYTHONPATH="/home/me/tools", LD_LIBRARY_PATH="/usr/local/cuda/lib64"))
    assert (seen["PYTHONPATH"], seen["LD_LIBRARY_PATH"]) == ("/home/me/tools", "/usr/local/cuda/lib64")


def test_a_sourced_ros_install_does_not_shadow_the_venvs_rclpy(tmp_path):
    """As after `source /opt/ros/<distro>/setup.bash`: its rclpy first on PYTHONPATH, its libraries on the path."""
    venv = Path(sys.prefix).name  # the venv this suite runs in: pick the ROS_DISTRO that selects it
    distro = "jazzy" if venv == ".venv-jazzy" else "humble"
    prefix = tmp_path / "opt" / "ros" / distro
    site = prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (site / "rclpy").mkdir(parents=True)
    (site / "rclpy" / "__init__.py").write_text("raise ImportError('the sourced ROS install rclpy was imported')\n")
    sourced = clean_env(ROS_DISTRO=distro, PYTHONPATH=str(site), AMENT_PREFIX_PATH=str(prefix),
                        LD_LIBRARY_PATH=str(prefix / "lib"), _ROS_WHEELS_BOOTSTRAP_COMPLETE="1")  # fmt: skip
    shadowed = subprocess.run([sys.executable, "-c", "import rclpy"], env=sourced, capture_output=True, text=True)
    assert "the sourced ROS install rclpy was imported" in shadowed.stderr  # what make keeps from happening
    seen = make_probe(tmp_path, sourced)
    assert seen["VENV"] == venv
    assert all(seen[name] == "unset" for name in ("PYTHONPATH", "AMENT_PREFIX_PATH", "LD_LIBRARY_PATH", "GUARD"))
    assert seen["RCLPY"].startswith(str(ROOT / venv)) and seen["RCLPY"].endswith("rclpy/__init__.py"), seen["RCLPY"]
