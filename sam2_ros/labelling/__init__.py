# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Label recordings into datasets: bags, videos and image folders in; COCO, DAVIS, YOLO and an annotated bag out.

``python -m sam2_ros.label`` is the command (``sam2_ros/label.py``); this package is the capability,
one concern per module: ``config`` (LabelConfig, exit statuses), ``bag_types`` (rosbags types,
ours from msg/), ``sources`` (frames of a bag, video or image folder), ``prompt_file``
(the prompts file), ``auto_prompts`` (``--auto`` / ``--text``), ``coco``, ``davis``, ``yolo`` and
``bag_output`` (the dataset writers), ``review_video`` (``--video``), ``run_store`` (the run's
state on disk, for ``--resume``), ``progress`` and ``run`` (the loop). Nothing here imports rclpy:
bags are read and written with ``rosbags``, so it runs where only ``pip install`` was done.
"""
