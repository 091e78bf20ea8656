#!/usr/bin/env python3
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A camera in its own process that sends bursts of large best-effort images, to provoke losses in transport.

Usage: python test/image_burst.py TOPIC FRAMES WIDTH HEIGHT
Waits until a subscriber is matched, then publishes FRAMES rgb8 images of WIDTH x HEIGHT
back to back (stamps 1000, 1001, ...), then waits a second so the last ones can leave.
"""

import os
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sam2_ros.image_conversion import fill_image  # noqa: E402


def main() -> int:
    topic, frames, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rclpy.init()
    node = rclpy.create_node("image_burst")
    publisher = node.create_publisher(Image, topic, qos_profile_sensor_data)
    deadline = time.monotonic() + 60
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the reader matches this writer a moment after the writer matches it
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    msg = fill_image(Image(), pixels, "rgb8")
    msg.header.frame_id = "burst"
    for i in range(frames):
        msg.header.stamp.sec = 1000 + i
        publisher.publish(msg)
    time.sleep(1.0)
    print(f"sent {frames}", flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
