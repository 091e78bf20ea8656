#!/usr/bin/env bash
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
# Sets up .venv/ at the repository root on a machine without ROS: PyTorch, PyPI's ROS 2
# wheels, the package's interfaces built with colcon into the venv, sam2_core and sam2_ros
# installed beside them. Idempotent: re-used when present, repaired when broken.
#
# Which ROS 2 wheels: Kilted in .venv/ (requirements/ros.txt) unless ROS_DISTRO=jazzy, which
# builds .venv-jazzy/ from PyPI's ROS 2 Jazzy wheels (requirements/ros-jazzy.txt). Each venv
# has its own stamps and colcon build folder, so both can exist side by side.
#
# Environment knobs:
#   ROS_DISTRO=jazzy         build/use .venv-jazzy/ (any other value, or none: .venv/, Kilted);
#                            `bootstrap.sh --print-venv` only prints which one
#   PYTHON=python3.12        interpreter to create the venv with (>= 3.10)
#   TORCH_SPEC="torch"       what to pip-install for PyTorch (default: CUDA build when an
#                            NVIDIA driver is present, else the pinned CPU-tested version)
#   TORCH_INDEX_URL=...      extra index for PyTorch, e.g. https://download.pytorch.org/whl/cpu
#   SAM2_ROS_WITH_TESTS=0    skip test-only dependencies (Meta's reference, pytest, ruff, transformers,
#                            the vision_msgs stand-in)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${ROS_DISTRO:-}" in
  jazzy) VENV="$ROOT/.venv-jazzy"; ROS_REQUIREMENTS="$ROOT/requirements/ros-jazzy.txt"; BUILD="$ROOT/build/jazzy" ;;
  *)     VENV="$ROOT/.venv"; ROS_REQUIREMENTS="$ROOT/requirements/ros.txt"; BUILD="$ROOT/build" ;;
esac
VENV_NAME="$(basename "$VENV")"
if [ "${1:-}" = "--print-venv" ]; then echo "$VENV_NAME"; exit 0; fi  # which venv, and nothing else (tests)
VPY="$VENV/bin/python"
PYTHON="${PYTHON:-python3}"
WITH_TESTS="${SAM2_ROS_WITH_TESTS:-1}"
TORCH_CPU_PIN="torch==2.13.0"
REFERENCE_PIN="sam2==1.1.0"

say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }
# A sourced ROS install (/opt/ros/<distro>/setup.bash) puts its own rclpy, libraries and CMake
# packages on these paths, which would shadow the venv's (the Makefile keeps them out too).
if [ -n "${ROS_DISTRO:-}${AMENT_PREFIX_PATH:-}" ]; then
  unset PYTHONPATH LD_LIBRARY_PATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH _ROS_WHEELS_BOOTSTRAP_COMPLETE
fi
case "${ROS_DISTRO:-}" in
  ""|kilted|jazzy) ;;
  *) say "PyPI has ROS 2 wheels for Kilted and Jazzy only: ROS_DISTRO=$ROS_DISTRO uses $VENV_NAME (Kilted)" ;;
esac

# --- 1. interpreter -----------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python >= 3.10 or set PYTHON=..."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "Python >= 3.10 is required ($PYTHON is $("$PYTHON" -V 2>&1))"

# --- 2. the venv: re-use, repair or create ------------------------------------------
venv_ok() { [ -x "$VPY" ] && "$VPY" -c 'import sys, pip' >/dev/null 2>&1; }
if ! venv_ok; then
  [ -e "$VENV" ] && { say "existing $VENV_NAME is broken; recreating it"; rm -rf "$VENV"; }
  say "creating $VENV_NAME with $("$PYTHON" -V 2>&1)"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      say "python venv support missing; installing python${pyver}-venv with apt-get"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${pyver}-venv" >/dev/null
      "$PYTHON" -m venv "$VENV"
    else
      die "'$PYTHON -m venv' failed; install the venv module (Debian/Ubuntu: sudo apt install python3-venv)"
    fi
  fi
fi
PIP=("$VPY" -m pip install --disable-pip-version-check -q)

# --- 3. Python dependencies (skipped when nothing changed) ---------------------------
stamp="$VENV/.sam2_ros_deps"
want=$(cat "$ROOT/requirements/runtime.txt" "$ROOT/requirements/test.txt" "$ROS_REQUIREMENTS" "$ROOT/scripts/bootstrap.sh" \
  | sha256sum | cut -d' ' -f1)-tests$WITH_TESTS
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VPY" -c 'import torch, numpy, cv2, rclpy' >/dev/null 2>&1; then
  if ! "$VPY" -c 'import torch' >/dev/null 2>&1; then
    if [ -n "${TORCH_SPEC:-}" ]; then spec="$TORCH_SPEC"
    elif command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then spec="torch"
    else spec="$TORCH_CPU_PIN"; fi
    say "installing PyTorch ($spec)"
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
      "${PIP[@]}" "$spec" --extra-index-url "$TORCH_INDEX_URL"
    else
      "${PIP[@]}" "$spec"
    fi
  fi
  say "installing numpy, OpenCV and PyPI's ROS 2 wheels ($(basename "$ROS_REQUIREMENTS"))"
  "${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROS_REQUIREMENTS"
  if [ "$WITH_TESTS" = 1 ]; then
    say "installing test tools and Meta's reference implementation ($REFERENCE_PIN, tests only)"
    "${PIP[@]}" -r "$ROOT/requirements/test.txt"
    # --no-build-isolation: its build requirements would pull a second, CUDA, torch;
    # SAM2_BUILD_CUDA=0: its optional CUDA extension is not wanted.
    SAM2_BUILD_CUDA=0 "${PIP[@]}" --no-deps --no-build-isolation "$REFERENCE_PIN"
  fi
  echo "$want" > "$stamp"
fi

# --- 4. work around PyPI ROS wheels exporting their build host's include paths --------
# Their CMake exports name /opt/python/cpXY-cpXY/...; only needed without a real ROS install.
pytag=$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
pyver=$("$VPY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
fake="/opt/python/$pytag-$pytag"
if grep -rqs "$fake" "$VENV/share" 2>/dev/null; then
  inc=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  npinc=$("$VPY" -c 'import numpy; print(numpy.get_include())')
  link() {  # link PATH TARGET, only where PATH does not exist yet
    [ -e "$1" ] && return 0
    if [ -w "$(dirname "$fake")" ] || mkdir -p "$(dirname "$1")" 2>/dev/null; then
      mkdir -p "$(dirname "$1")" && ln -sfn "$2" "$1"
    elif command -v sudo >/dev/null; then
      sudo mkdir -p "$(dirname "$1")" && sudo ln -sfn "$2" "$1"
    else
      die "the ROS wheels need $1 to exist; create it as a link to $2 (needs root)"
    fi
  }
  link "$fake/include/python$pyver" "$inc"
  link "$fake/lib/python$pyver/site-packages/numpy/_core/include" "$npinc"
fi

# --- 5. build the interfaces and install both Python packages into the venv ----------
build_stamp="$VENV/.sam2_ros_build"
src_hash=$(cd "$ROOT" && for p in package.xml CMakeLists.txt msg srv sam2_core sam2_ros scripts launch config models; do
  if [ -e "$p" ]; then find "$p" -type f ! -name "*.pyc"; fi; done | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$build_stamp" 2>/dev/null)" != "$src_hash" ] || ! (cd / && "$VPY" -c 'import sam2_ros.msg, sam2_core') >/dev/null 2>&1; then
  say "building the sam2_ros package (interfaces + Python) into $VENV_NAME with colcon"
  mkdir -p "$BUILD"
  export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
  (cd "$ROOT" && "$VENV/bin/colcon" --log-base "$BUILD/log" build --paths "$ROOT" --merge-install \
      --build-base "$BUILD" --install-base "$VENV" \
      --event-handlers console_cohesion- console_direct- console_stderr+ status- summary- \
      --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF -Wno-dev) \
    > "$BUILD/colcon.log" 2>&1 || { tail -40 "$BUILD/colcon.log" >&2; die "colcon build failed (full log: ${BUILD#"$ROOT"/}/colcon.log)"; }
  echo "$src_hash" > "$build_stamp"
fi

# --- 6. tests only: a stand-in for vision_msgs (not on PyPI), so the detections bridge is tested ---
# test/vision_msgs_standin carries COLCON_IGNORE so no other colcon build ever picks it up; it is
# built here from a copy without the marker (see its README.md).
standin="$ROOT/test/vision_msgs_standin"
if [ "$WITH_TESTS" = 1 ] && [ -d "$standin" ]; then
  standin_stamp="$VENV/.sam2_ros_vision_msgs_standin"
  standin_hash=$(cd "$standin" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$standin_stamp" 2>/dev/null)" != "$standin_hash" ] \
      || ! (cd / && "$VPY" -c 'import vision_msgs.msg') >/dev/null 2>&1; then
    say "building the test-only vision_msgs stand-in into $VENV_NAME with colcon"
    copy="$BUILD/vision_msgs_standin_src/vision_msgs"
    rm -rf "$copy" && mkdir -p "$copy" && cp -r "$standin"/. "$copy" && rm -f "$copy/COLCON_IGNORE"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    (cd "$ROOT" && "$VENV/bin/colcon" --log-base "$BUILD/log" build --paths "$copy" --merge-install \
        --build-base "$BUILD" --install-base "$VENV" \
        --event-handlers console_cohesion- console_direct- console_stderr+ status- summary- \
        --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF -Wno-dev) \
      > "$BUILD/colcon_vision_msgs.log" 2>&1 \
      || { tail -40 "$BUILD/colcon_vision_msgs.log" >&2
           die "colcon build of the vision_msgs stand-in failed (full log: ${BUILD#"$ROOT"/}/colcon_vision_msgs.log)"; }
    echo "$standin_hash" > "$standin_stamp"
  fi
fi

(cd / && "$VPY" -c 'import sam2_core, sam2_ros.msg, sam2_ros.srv') \
  || die "the venv cannot import sam2_core and sam2_ros.msg after the build"
say "ready: $VENV (rclpy $("$VPY" -c 'from importlib.metadata import version; print(version("ros-rclpy"))' 2>/dev/null || echo '?'))"
