# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Objects in 3-D from an aligned depth image: depth maths, pairing, the node's depth input and 3-D outputs.

geometry (decoding, alignment, erosion, back-projection, robust centre and extent) and pairing
(the stamp matcher) are pure; messages builds PointCloud2, box markers and TF transforms;
node_io is the node's side (the `depth` subscription and the 3-D outputs of each frame).
"""
