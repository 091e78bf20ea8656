#!/usr/bin/env python3
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The tracker node's real entry point (main) with the fake tracker, for process-level tests.

Usage: python test/fake_tracker_node.py --ros-args -r __ns:=/x -p warmup:=false
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]  # the source tree, as `python -m` from the root sees it

from fake_tracker import fake_factory  # noqa: E402

from sam2_ros.tracker_node import main  # noqa: E402

if __name__ == "__main__":
    main(tracker_factory=fake_factory())
