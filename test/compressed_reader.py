#!/usr/bin/env python3
# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A user's reader in its own process: best-effort sensor-data QoS, Fast DDS as configured by the environment.

Usage: python test/compressed_reader.py TOPIC COUNT OUT_DIR [TIMEOUT_S]
Prints "matched" once the topic's publisher is matched, then writes each CompressedImage to
OUT_DIR/<stamp sec>.<format's codec> (its format string beside it in formats.txt) until COUNT
have arrived or TIMEOUT_S passed; exit status 0 when all came, 1 otherwise.
"""

import os
import sys
import time

import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage


def main() -> int:
    topic, count, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    timeout_s = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    os.makedirs(out_dir, exist_ok=True)
    received: dict[int, CompressedImage] = {}
    rclpy.init()
    node = rclpy.create_node("compressed_reader")

    def on_message(msg: CompressedImage) -> None:
        sec = msg.header.stamp.sec
        with open(os.path.join(out_dir, f"{sec}.{'png' if 'png' in msg.format else 'jpg'}"), "wb") as f:
            f.write(bytes(msg.data))
        with open(os.path.join(out_dir, "formats.txt"), "a") as f:
            f.write(f"{sec}\t{msg.header.frame_id}\t{msg.format}\n")
        received[sec] = msg

    subscription = node.create_subscription(CompressedImage, topic, on_message, qos_profile_sensor_data)
    deadline = time.monotonic() + timeout_s
    matched = False
    while len(received) < count and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
        if not matched and subscription.get_publisher_count() > 0:
            matched = True
            print("matched", flush=True)
    print(f"received {len(received)} of {count}", flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if len(received) >= count else 1


if __name__ == "__main__":
    sys.exit(main())
