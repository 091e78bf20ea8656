#!/usr/bin/env bash
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
# `make gpu-check`: the prepared check for a lent GPU machine (Python 3.12, torch with CUDA, no
# network). Installs what scripts/gpu_wheels.sh put in .whl/ into /tmp (the machine's own torch
# stays), proves that rclpy and this package's messages load, then runs scripts/gpu_check.py, which
# writes gpu_check.{md,json,log} to $OUT (the device tool's output folder; else ./gpu_check_out)
# and prints a one-line summary. Device call: carry [".whl"], command `make gpu-check`.
#
#   bash scripts/gpu_check.sh                  the GPU run (about 8 minutes; GPU_CHECK_BUDGET_S=480)
#   bash scripts/gpu_check.sh --only node      a rerun of some stages (bench_tiny tests node memory bench_small ...)
#   bash scripts/gpu_check.sh --dry-run        here, on the CPU with .venv: the same stages at tiny sizes
#   bash scripts/gpu_check.sh --install-check  install .whl into a prefix with $PYTHON and load rclpy + messages
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="${GPU_WHEELS_DIR:-$ROOT/.whl}"
PREFIX="${GPU_CHECK_PREFIX:-/tmp/sam2_gpu_site}"
cd "$ROOT"
say() { printf '[gpu-check] %s\n' "$*" >&2; }

mode=gpu
case "${1:-}" in
  --dry-run) mode=dry ;;
  --install-check) mode=install; shift ;;
esac

if [ "$mode" = dry ]; then
  PY="${PYTHON:-$ROOT/.venv/bin/python}"
  [ -x "$PY" ] || { say "no .venv here: run 'make venv' first"; exit 2; }
  exec "$PY" scripts/gpu_check.py "$@"
fi

PY="${PYTHON:-python3}"
started=$(date +%s)
[ -d "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1 \
  || { say "no wheels in $WHEELS: run scripts/gpu_wheels.sh where pip works, then carry .whl"; exit 2; }
pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ "$pyver" = 3.12 ] || say "warning: $PY is Python $pyver; the carried wheels are for 3.12"
rm -rf "$PREFIX"
# --ignore-installed: into the prefix even where the image has some version; the image's torch,
# numpy and OpenCV are not carried and stay what they are
"$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
  --ignore-installed --prefix "$PREFIX" "$WHEELS"/*.whl || { say "installing the carried wheels failed"; exit 2; }
tar -xzf "$WHEELS/sam2_ros_interfaces-cp312.tar.gz" -C "$PREFIX" || { say "unpacking the interfaces failed"; exit 2; }
SITE="$PREFIX/lib/python$pyver/site-packages"
libs="$PREFIX/lib"
for d in "$SITE"/ros_*.libs; do [ -d "$d" ] && libs="$libs:$d"; done
# what the ROS wheels' bootstrapper would set (it re-executes Python; with a prefix it cannot)
export PYTHONPATH="$ROOT:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 AMENT_PREFIX_PATH="$PREFIX" ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
say "installed $(ls "$WHEELS"/*.whl | wc -l) wheels and the interfaces into $PREFIX in $(( $(date +%s) - started )) s"

"$PY" - <<'EOF' || { say "rclpy or the sam2_ros messages do not load (see above)"; exit 2; }
import threading, time
import rclpy
from rclpy.lifecycle import LifecycleNode
from sam2_ros.msg import Prompt, TrackedObjectArray
from sam2_ros.srv import AddPrompt
from sensor_msgs.msg import Image
rclpy.init()
node = LifecycleNode("sam2_gpu_check_probe")
got = []
node.create_subscription(TrackedObjectArray, "gpu_check_smoke", got.append, 10)
pub = node.create_publisher(TrackedObjectArray, "gpu_check_smoke", 10)
deadline = time.monotonic() + 20
while not got and time.monotonic() < deadline:
    pub.publish(TrackedObjectArray())
    rclpy.spin_once(node, timeout_sec=0.1)
assert got, "no message came back over DDS"
node.destroy_node()
rclpy.shutdown()
print("[gpu-check] rclpy, lifecycle nodes and sam2_ros messages work (a message went round over DDS)")
EOF
[ "$mode" = install ] && exit 0

# the benchmarks' budget counts from here; the install above took its few seconds already
exec "$PY" scripts/gpu_check.py "$@"
