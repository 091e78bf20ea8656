#!/usr/bin/env bash
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
# Fills .whl/ (ignored by git) with what `make gpu-check` needs on a lent GPU machine that has
# Python 3.12 and torch with CUDA but no network: PyPI's ROS 2 runtime wheels for cp312 (the
# versions this .venv runs), Meta's reference sam2==1.1.0 and the pure-Python packages it needs
# that the machine lacks (built here as wheels), and this package's interfaces built for Python
# 3.12 (a tarball: colcon's install space, generated parts only). Run it here, with network,
# after `make venv`; it then checks that the tree plus .whl fits the device tool's 64 MiB carry.
#
#   PYTHON312=python3.12   an interpreter for the interface build (pyenv's 3.12 is found too)
#   GPU_WHEELS_DIR=.whl    where to put everything
#   GPU_WHEELS_WORK=...    the Python 3.12 build venv and colcon build (default ~/.cache/sam2_ros_gpu_wheels)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${GPU_WHEELS_DIR:-$ROOT/.whl}"
VPY="$ROOT/.venv/bin/python"
# outside the source tree: CMake refuses include paths inside it (the build venv's numpy)
WORK="${GPU_WHEELS_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/sam2_ros_gpu_wheels}"
LIMIT_BYTES=$((64 * 1024 * 1024))
say() { printf '[gpu_wheels] %s\n' "$*"; }
die() { printf '[gpu_wheels] ERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$VPY" ] || die "no .venv: run 'make venv' first (its ROS wheel versions are the ones carried)"
find_py312() {
  for candidate in "${PYTHON312:-}" python3.12 "$(pyenv prefix 3.12 2>/dev/null)/bin/python3.12" \
                   /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    [ -n "$candidate" ] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null \
      && { command -v "$candidate" || echo "$candidate"; return 0; }
  done
  return 1
}
PY312="$(find_py312)" || die "Python 3.12 is needed to build the interfaces for the GPU machine; set PYTHON312"

rm -rf "$OUT" && mkdir -p "$OUT" "$WORK"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
DL=("$VPY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12
    --implementation cp "${PLATFORMS[@]}")

# --- 1. ROS 2 runtime wheels, cp312, the versions of this .venv ----------------------------
# Build-time packages (CMake modules, generators, colcon) stay here: the interfaces arrive built.
BUILD_ONLY='^ros-(ament-cmake|python-cmake-module|rmw-implementation-cmake|rosidl-adapter|rosidl-cli|rosidl-cmake|rosidl-core-generators|rosidl-default-generators|rosidl-generator-c|rosidl-generator-cpp|rosidl-generator-type-description|rmw-test-fixture)'
"$VPY" -m pip list --format=freeze --disable-pip-version-check 2>/dev/null | grep -i '^ros-' > "$WORK/ros_all.txt"
grep -viE "$BUILD_ONLY" "$WORK/ros_all.txt" > "$WORK/ros_runtime.txt"
say "downloading $(wc -l < "$WORK/ros_runtime.txt") ROS 2 runtime wheels for cp312"
"${DL[@]}" -d "$OUT" -r "$WORK/ros_runtime.txt" 2>&1 | grep -v '^WARNING: Location' || true
[ "$(ls "$OUT"/ros_*.whl 2>/dev/null | wc -l)" -eq "$(wc -l < "$WORK/ros_runtime.txt")" ] \
  || die "not every ROS wheel was downloaded (see above)"

# --- 2. the reference and what it needs beyond the GPU image (pure Python, built here) -------
# sam2 1.1.0 and antlr4 4.9.3 exist only as sources; SAM2_BUILD_CUDA=0: no CUDA extension (the
# benchmark then runs both sides without hole filling, as on the CPU).
pins=()
for name in hydra-core omegaconf iopath antlr4-python3-runtime; do
  version=$("$VPY" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
  [ -n "$version" ] || die "$name is not installed in .venv (make venv installs it)"
  pins+=("$name==$version")
done
say "building sam2==1.1.0 ${pins[*]} as wheels"
SAM2_BUILD_CUDA=0 "$VPY" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$OUT" \
  sam2==1.1.0 "${pins[@]}" 2>&1 | grep -v '^WARNING: Location' || true
for name in sam2 hydra_core omegaconf iopath antlr4_python3_runtime; do
  ls "$OUT"/"$name"-*.whl >/dev/null 2>&1 || die "no wheel for $name"
done

# --- 3. this package's interfaces, built with colcon for Python 3.12 -------------------------
VENV312="$WORK/venv312"
if [ ! -x "$VENV312/bin/python" ]; then
  say "creating a Python 3.12 build venv ($("$PY312" -V))"
  "$PY312" -m venv "$VENV312"
fi
say "installing the ROS build wheels into it (cp312)"
"$VENV312/bin/python" -m pip install -q --disable-pip-version-check -r "$WORK/ros_all.txt" numpy colcon-common-extensions \
  2>&1 | grep -v '^WARNING: Location' || true
pytag=cp312
fake="/opt/python/$pytag-$pytag"
if grep -rqs "$fake" "$VENV312/share" 2>/dev/null; then  # the wheels' CMake exports name their build host
  inc=$("$VENV312/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  npinc=$("$VENV312/bin/python" -c 'import numpy; print(numpy.get_include())')
  for pair in "$fake/include/python3.12=$inc" "$fake/lib/python3.12/site-packages/numpy/_core/include=$npinc"; do
    link=${pair%%=*} target=${pair#*=}
    [ -e "$link" ] || { mkdir -p "$(dirname "$link")" && ln -sfn "$target" "$link"; } \
      || die "the ROS wheels need $link (a link to $target; needs root)"
  done
fi
INSTALL="$WORK/install312"
rm -rf "$INSTALL" "$WORK/colcon_build"
say "building the interfaces (colcon, Python 3.12)"
(cd "$ROOT" && AMENT_PREFIX_PATH="$VENV312" CMAKE_PREFIX_PATH="$VENV312" "$VENV312/bin/colcon" \
    --log-base "$WORK/log" build --paths "$ROOT" --merge-install --build-base "$WORK/colcon_build" \
    --install-base "$INSTALL" --event-handlers console_cohesion- console_direct- status- summary- \
    --cmake-args -DPython3_EXECUTABLE="$VENV312/bin/python" -DBUILD_TESTING=OFF -Wno-dev) \
  > "$WORK/colcon.log" 2>&1 || { tail -30 "$WORK/colcon.log" >&2; die "colcon build failed ($WORK/colcon.log)"; }
site="lib/python3.12/site-packages/sam2_ros"
[ -d "$INSTALL/$site/msg" ] || die "the build made no $site/msg"
# generated parts only: the sources come with the working tree
(cd "$INSTALL" && tar -czf "$OUT/sam2_ros_interfaces-cp312.tar.gz" lib/libsam2_ros__* "$site/msg" "$site/srv" \
  "$site"/*.so "$site/__init__.py" share/sam2_ros share/ament_index)
"$VENV312/bin/python" - "$OUT" <<'EOF'
import sys, zipfile, pathlib
names = [p.name for p in pathlib.Path(sys.argv[1]).glob("*.whl")]
assert len({n.split("-")[0].lower() for n in names}) == len(names), "two versions of one package"
for p in pathlib.Path(sys.argv[1]).glob("*.whl"):
    zipfile.ZipFile(p).testzip()
EOF

# --- 4. the carry limit ------------------------------------------------------------------------
tree=$(cd "$ROOT" && { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r du -cb 2>/dev/null \
  | tail -1 | cut -f1)
wheels=$(du -cb "$OUT"/* | tail -1 | cut -f1)
total=$((tree + wheels))
say "$(ls "$OUT" | wc -l) files in $OUT: $((wheels / 1024)) KiB; the working tree: $((tree / 1024)) KiB;"
say "together $((total / 1024)) KiB of the device tool's $((LIMIT_BYTES / 1024)) KiB carry limit"
[ "$total" -le "$LIMIT_BYTES" ] || die "over the carry limit by $(((total - LIMIT_BYTES) / 1024)) KiB"
say "ready: run on the GPU machine as one device call with carry [\".whl\"]: make gpu-check"
