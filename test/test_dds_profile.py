# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The Fast DDS large-message profile is applied only where the user configured nothing."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from sam2_ros.dds_profile import PROFILE_FILE, use_large_message_profile


def test_profile_is_valid_xml_with_udp_only_and_large_buffers():
    root = ET.parse(PROFILE_FILE).getroot()
    ns = {"d": "http://www.eprosima.com"}
    sizes = [int(e.text) for e in root.iterfind(".//d:transport_descriptor/d:receiveBufferSize", ns)]
    assert sizes and min(sizes) >= 2 * 921600  # two 640x480 rgb8 frames
    assert root.find(".//d:participant/d:rtps/d:useBuiltinTransports", ns).text == "false"


def test_applied_on_a_default_environment():
    env = {}
    assert use_large_message_profile(env) == PROFILE_FILE
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] == PROFILE_FILE
    assert os.path.isfile(env["FASTDDS_DEFAULT_PROFILES_FILE"])


@pytest.mark.parametrize(
    "env",
    [
        {"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
        {"FASTRTPS_DEFAULT_PROFILES_FILE": "/etc/mine.xml"},
        {"FASTDDS_BUILTIN_TRANSPORTS": "SHM"},
        {"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"},
        {"SAM2_ROS_DDS_PROFILE": "0"},
    ],
)
def test_left_alone_when_configured_or_opted_out(env):
    before = dict(env)
    assert use_large_message_profile(env) is None
    assert env == before
