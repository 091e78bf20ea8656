# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ``main`` every executable of the package shares: init, one node, spin, clean shutdown."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from rclpy.exceptions import InvalidHandle
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from sam2_ros.dds_profile import init_ros


def spin_executor(executor: Executor) -> None:
    """``executor.spin()`` that survives rclpy's race between destroying an entity and waiting on it.

    rclpy's executors can raise InvalidHandle while building a wait set when another thread
    destroys a subscription or publisher at that moment (ros2/rclpy#1284), as deactivate and
    cleanup do. The entity is gone either way, so the right thing is to spin on.
    """
    while True:
        try:
            executor.spin()
            return
        except InvalidHandle:
            continue


def run_node(
    args: list[str] | None,
    name: str,
    make_node: Callable[[], Node],
    *,
    threads: int = 1,
    fatal: tuple[type[BaseException], ...] = (),
) -> int:
    """Build the node (after ``rclpy.init`` with the large-image DDS profile) and spin it until
    SIGINT / SIGTERM or an external shutdown; then destroy it and shut rclpy down.

    ``threads`` > 1 spins a MultiThreadedExecutor. An exception of a ``fatal`` type (the node's
    way of saying its configuration cannot work, e.g. a missing video file) is logged as one
    line under ``name``; the return value is then 1, else 0 (the process exit status).
    """
    init_ros(args, name)
    node = None
    status = 0
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        spin_executor(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except fatal as error:
        rclpy.logging.get_logger(name).error(str(error))
        status = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status
