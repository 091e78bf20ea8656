# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Chooses a Fast DDS profile that carries full camera images between processes, unless the user set one."""

from __future__ import annotations

import os

PROFILE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastdds_large_messages.xml")

# Any of these means the user (or their launch setup) already configured the middleware.
_USER_SETTINGS = (
    "FASTDDS_DEFAULT_PROFILES_FILE",
    "FASTRTPS_DEFAULT_PROFILES_FILE",
    "FASTDDS_BUILTIN_TRANSPORTS",
    "RMW_FASTRTPS_USE_QOS_FROM_XML",
)


def use_large_message_profile(environ: dict | None = None) -> str | None:
    """Point Fast DDS at ``fastdds_large_messages.xml`` for this process; call before ``rclpy.init``.

    Returns the profile path when it was applied, ``None`` when left alone: another RMW is
    selected, the user configured Fast DDS, or ``SAM2_ROS_DDS_PROFILE=0`` opts out.
    """
    env = os.environ if environ is None else environ
    if env.get("SAM2_ROS_DDS_PROFILE", "1") == "0":
        return None
    if env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp") != "rmw_fastrtps_cpp":
        return None
    if any(env.get(name) for name in _USER_SETTINGS) or not os.path.isfile(PROFILE_FILE):
        return None
    env["FASTDDS_DEFAULT_PROFILES_FILE"] = PROFILE_FILE
    return PROFILE_FILE


def init_ros(args: list[str] | None, logger_name: str) -> None:
    """``rclpy.init(args)`` for an executable's ``main``, with the large-message profile chosen first."""
    import rclpy

    profile = use_large_message_profile()
    rclpy.init(args=args)
    if profile:
        rclpy.logging.get_logger(logger_name).info(f"Fast DDS profile for large images: {profile}")
