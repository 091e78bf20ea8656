# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Objects added without a click: segment everything and discovery, text prompts, detector boxes.

mask_rules and box_rules decide which automatic masks / detector boxes become new objects (pure);
phrases parses text prompts; discovery, text_server and detections are the node's side (the
services, topics and periodic re-runs, all on the tracking worker).
"""
