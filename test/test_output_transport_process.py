# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Across processes: a Fast DDS-defaults reader gets every compressed label image; lost input frames are reported."""

from __future__ import annotations

import os
import sys
import time

import cv2
import numpy as np
import pytest
from fake_tracker import fake_factory
from node_harness import HEIGHT, ROOT, WIDTH, Harness, NodeProcess, Ros, wait_until

from sam2_ros.image_conversion import image_to_array

FRAMES, FRAME_W, FRAME_H = 20, 640, 480


@pytest.fixture(scope="module")
def ros():
    ros = Ros()
    yield ros
    ros.close()


def defaults_env() -> dict[str, str]:
    """This environment without the large-message Fast DDS profile the test process chose: Fast DDS's defaults."""
    env = dict(os.environ)
    for name in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE", "RMW_FASTRTPS_USE_QOS_FROM_XML"):
        env.pop(name, None)
    return env


def test_a_fast_dds_defaults_reader_gets_every_compressed_label_image_best_effort(ros, tmp_path):
    h = Harness(ros, fake_factory())
    out_dir = tmp_path / "received"
    topic = f"{h.ns}/sam2_tracker/label_image/compressed"
    reader_argv = [sys.executable, str(ROOT / "test" / "compressed_reader.py"), topic, str(FRAMES), str(out_dir)]
    reader = NodeProcess(reader_argv, defaults_env())
    try:
        h.start()
        reader.wait_line("matched")
        publisher = h.node._outputs.publishers["label_image_compressed"]
        wait_until(lambda: publisher.get_subscription_count() > 0, 30, "the reader matched")
        raw = {1: h.track(1, width=FRAME_W, height=FRAME_H)[0]}  # a 20-frame run, prompted on its first frame
        assert h.add_prompt(1, box=[40, 30, 300, 260]).success
        assert h.add_prompt(2, points=[(500, 400)]).success
        assert h.add_prompt(700, box=[350, 20, 620, 200]).success
        raw.update({sec: h.track(sec, width=FRAME_W, height=FRAME_H)[0] for sec in range(2, FRAMES + 1)})
        assert reader.proc.wait(120) == 0, "\n".join(reader.lines)
    finally:
        reader.kill()
        h.close()
    lines = (out_dir / "formats.txt").read_text().splitlines()
    formats = {int(line.split("\t")[0]): line.split("\t")[1:] for line in lines}
    assert sorted(formats) == sorted(raw) == list(range(1, FRAMES + 1))
    # as many as the node published, counting any frame the harness sent twice (before the last one, after
    # which the reader stops): none was lost
    published = [m.header.stamp.sec for m in h.received["label_image"] if m.header.stamp.sec < FRAMES]
    assert sum(int(line.split("\t")[0]) < FRAMES for line in lines) == len(published)
    for sec, msg in raw.items():
        assert formats[sec] == ["cam", "mono16; png compressed"], sec
        decoded = cv2.imread(str(out_dir / f"{sec}.png"), cv2.IMREAD_UNCHANGED)
        expected = image_to_array(msg)
        assert decoded.dtype == np.uint16 and decoded.shape == (FRAME_H, FRAME_W)
        np.testing.assert_array_equal(decoded, expected, err_msg=f"label image stamped {sec}")
    assert set(np.unique(expected)) == {0, 1, 2, 700}


def test_lost_input_frames_are_counted_in_diagnostics_and_warned_about_once(ros):
    h = Harness(ros, fake_factory(), diagnostics_period_s=0.2).start()
    topic = f"{h.ns}/image"
    try:
        h.track(1)  # the harness's own small frame: the node is up
        bursts = 0
        while h.node.statistics().lost_in_transport == 0 and bursts < 6:
            bursts += 1
            camera_argv = [sys.executable, str(ROOT / "test" / "image_burst.py"), topic, "40", "1280", "720"]
            camera = NodeProcess(camera_argv, defaults_env())
            try:
                assert camera.proc.wait(120) == 0, "\n".join(camera.lines)
            finally:
                camera.kill()
            time.sleep(0.5)
        lost = h.node.statistics().lost_in_transport
        assert lost > 0, f"no loss reported after {bursts} bursts of 40 1280 x 720 frames"
        print(f"{lost} frames reported lost after {bursts} burst(s) of 40")
        warning = h.wait_log("lost in transport")
        assert f"on {topic} lost in transport" in warning
        assert "image_reliability: reliable" in warning and "image_transport: compressed" in warning
        assert "net.core.rmem_max" in warning

        name = f"{h.ns[1:]}/sam2_tracker: tracking"

        def reported():
            for array in reversed(list(ros.diagnostics)):
                for status in array.status:
                    values = {kv.key: kv.value for kv in status.values}
                    if status.name.endswith(name) and int(values.get("frames_lost_in_transport", 0)) >= lost:
                        return values
            return None

        wait_until(reported, 10, "frames_lost_in_transport in /diagnostics")
        # several loss events, one warning: the rest wait for the 30 s period
        assert sum("lost in transport" in line for line in h.log_lines()) == 1
        h.track(2, width=WIDTH, height=HEIGHT)  # and the node goes on
    finally:
        h.close()
