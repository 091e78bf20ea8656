# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 glue around sam2_core: the tracker node, its interfaces and helpers."""

import os
import sys


def _join_generated_interfaces() -> None:
    """Let ``sam2_ros.msg`` / ``sam2_ros.srv`` resolve when this package is the source tree.

    The built messages live in the installed copy of ``sam2_ros`` (site-packages or a colcon
    install space). When Python finds the source tree first (run from the repository root,
    or tests), the installed directory is appended to this package's search path instead of
    being shadowed.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        candidate = os.path.abspath(os.path.join(entry or os.getcwd(), "sam2_ros"))
        if candidate != here and candidate not in __path__ and os.path.isdir(os.path.join(candidate, "msg")):
            __path__.append(candidate)


_join_generated_interfaces()
