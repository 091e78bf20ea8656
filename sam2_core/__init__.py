# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SAM 2 / SAM 2.1 in plain PyTorch: the network, an image predictor and a streaming tracker."""
