# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The label tool's pure parts, without a model or a ROS graph: sources, the prompts file and the writers."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from label_recordings import PERIOD_NS, STAMP0_NS, TOPIC, clip, write_bag, write_folder, write_video
from PIL import Image as PILImage
from pycocotools import mask as mask_utils

from sam2_core.training.data import _voc_palette, read_index_png
from sam2_ros.labelling import bag_types, prompt_file
from sam2_ros.labelling.bag_output import label_image_message, tracked_object
from sam2_ros.labelling.coco import frame_annotations
from sam2_ros.labelling.config import LabelInputError
from sam2_ros.labelling.davis import encode_index_png
from sam2_ros.labelling.progress import Progress
from sam2_ros.labelling.sources import open_source
from sam2_ros.labelling.yolo import polygon_lines
from sam2_ros.outputs import object_geometries

# pycocotools decodes with numpy 1 semantics (numpy 2 warns on every mask)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
FRAMES = clip().frames[:6]


def _labels() -> np.ndarray:
    """A 40 x 60 label image: object 2 a rectangle, object 7 a disc and a separate square (two pieces)."""
    labels = np.zeros((40, 60), np.uint16)
    labels[5:20, 4:25] = 2
    cv2.circle(labels, (42, 14), 9, 7, -1)
    labels[30:37, 40:50] = 7
    return labels


# ---------------------------------------------------------------------------------------------- sources
@pytest.mark.parametrize(
    ("storage", "compressed", "encoding"),
    [("sqlite3", False, "rgb8"), ("mcap", False, "bgr8"), ("mcap", True, "rgb8"), ("sqlite3", True, "rgb8")],
)
def test_bag_source_reads_raw_and_compressed_images(tmp_path, storage, compressed, encoding):
    bag = write_bag(tmp_path / "bag", FRAMES, storage=storage, compressed=compressed, encoding=encoding)
    source = open_source(str(bag))
    assert (source.kind, source.topic, source.length, source.storage) == ("bag", TOPIC, len(FRAMES), storage)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(len(FRAMES)))
    assert [f.stamp_ns for f in frames] == [STAMP0_NS + i * PERIOD_NS for i in range(len(FRAMES))]
    assert source.stamps_ns() == [f.stamp_ns for f in frames]  # read from the raw CDR header
    assert frames[0].header.frame_id == "camera_optical" and frames[0].log_time_ns == STAMP0_NS + 1_000_000
    for f, truth in zip(frames, FRAMES):
        if compressed:
            assert np.abs(f.rgb.astype(int) - truth).mean() < 4  # jpeg
        else:
            np.testing.assert_array_equal(f.rgb, truth)
    assert [f.index for f in source.frames(4)] == [4, 5]
    assert source.fps == pytest.approx(10.0)
    source.close()


def test_single_mcap_file_is_a_bag(tmp_path):
    bag = write_bag(tmp_path / "bag", FRAMES, storage="mcap")
    (mcap,) = bag.glob("*.mcap")
    source = open_source(str(mcap))
    assert source.kind == "bag" and source.length == len(FRAMES)
    np.testing.assert_array_equal(next(source.frames()).rgb, FRAMES[0])


def test_video_and_image_folder_sources(tmp_path):
    video = open_source(str(write_video(tmp_path / "v.avi", FRAMES, fps=5.0)))
    frames = list(video.frames())
    assert video.kind == "video" and video.fps == 5.0 and len(frames) == len(FRAMES)
    assert frames[3].stamp_ns == 600_000_000 and np.abs(frames[3].rgb.astype(int) - FRAMES[3]).mean() < 6
    assert [f.index for f in video.frames(4)] == [4, 5]
    folder = open_source(str(write_folder(tmp_path / "images", np.concatenate([FRAMES, FRAMES]))), fps=2.0)
    frames = list(folder.frames(9))
    assert folder.kind == "folder" and folder.length == 12 and [f.index for f in frames] == [9, 10, 11]
    np.testing.assert_array_equal(frames[1].rgb, FRAMES[4])  # frame10.png after frame9.png
    assert frames[1].stamp_ns == 5_000_000_000


def test_bag_topic_choice_and_its_errors(tmp_path):
    bag = write_bag(tmp_path / "two", FRAMES[:2])
    with pytest.raises(LabelInputError, match=r"topic '/chatter' is std_msgs/msg/String, not an image topic.*"):
        open_source(str(bag), "/chatter")
    with pytest.raises(LabelInputError, match=r"'/nope' is not in the bag; image topics: /camera/image_raw \(Image"):
        open_source(str(bag), "/nope")
    # two image topics: the error lists both
    from rosbags.rosbag2 import Writer

    store = bag_types.typestore()
    with Writer(tmp_path / "multi", version=8) as w:
        for topic in ("/left/image", "/right/image/compressed"):
            kind = bag_types.COMPRESSED_IMAGE if "compressed" in topic else bag_types.IMAGE
            w.add_connection(topic, kind, typestore=store)
    with pytest.raises(LabelInputError, match=r"several image topics.*/left/image \(Image.*/right/image/compressed"):
        open_source(str(tmp_path / "multi"))
    assert open_source(str(tmp_path / "multi"), "/left/image").topic == "/left/image"


def test_missing_and_unreadable_sources(tmp_path):
    with pytest.raises(LabelInputError, match="does not exist"):
        open_source(str(tmp_path / "missing.mcap"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metadata.yaml").write_text("not: [a bag")
    with pytest.raises(LabelInputError, match="cannot read bag"):
        open_source(str(tmp_path / "broken"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LabelInputError, match="cannot open"):
        open_source(str(tmp_path / "notes.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelInputError, match="holds no images"):
        open_source(str(tmp_path / "empty"))


def test_unsupported_encodings_are_the_topics_not_one_frames(tmp_path):
    bag = write_bag(tmp_path / "bayer", FRAMES[:1], encoding="bayer_rggb8")
    with pytest.raises(LabelInputError, match="unsupported image encoding 'bayer_rggb8'"):
        next(open_source(str(bag)).frames())


# ---------------------------------------------------------------------------------------------- prompts
def _prompts(tmp_path, entries, suffix=".yaml"):
    path = tmp_path / f"prompts{suffix}"
    path.write_text(json.dumps(entries))  # JSON is YAML too
    return prompt_file.load_prompts(str(path))


def test_prompts_file_entries_and_their_order(tmp_path):
    cv2.imwrite(str(tmp_path / "m.png"), np.pad(np.full((4, 4), 255, np.uint8), 3))
    entries = _prompts(
        tmp_path,
        [
            {"frame": 3, "object_id": 2, "points": [[5, 6]]},  # a correction of object 2 (label kept)
            {"stamp": 1.0, "object_id": 1, "label": "cup", "box": [1, 2, 30, 40]},
            {"frame": 2, "object_id": 2, "label": "box", "mask": "m.png"},
            {"frame": 2, "object_id": 3, "points": [[1, 1], [9, 9]], "point_labels": [1, 0]},
        ],
        ".json",
    )
    assert entries[0].point_labels == [1] and entries[2].mask.shape == (10, 10) and entries[2].mask.sum() == 16
    by_frame = prompt_file.resolve_frames(
        entries, length=20, stamps_ns=lambda: [i * 500_000_000 for i in range(20)], first=0, last=None
    )
    assert entries[1].frame == 2  # stamp 1.0 s: frame 2 of images 0.5 s apart
    assert {f: [e.position for e in es] for f, es in by_frame.items()} == {2: [2, 3, 4], 3: [1]}  # file order
    labels = {e.object_id: e.label for es in by_frame.values() for e in es}
    assert labels == {1: "cup", 2: "box", 3: "object"}  # the first prompted frame may leave the label out
    assert by_frame[3][0].label == "box"  # the correction keeps object 2's label


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"object_id": 1, "box": [0, 0, 5, 5]}, "exactly one of 'frame'"),
        ({"frame": 0, "object_id": 0, "box": [0, 0, 5, 5]}, "object_id must be an integer 1..65535"),
        ({"frame": 0, "object_id": 1}, "empty prompt"),
        ({"frame": 0, "object_id": 1, "box": [5, 5, 0, 0]}, "box is inverted"),
        ({"frame": 0, "object_id": 1, "points": [[1, 2]], "point_labels": [3]}, "labels must be 1"),
        ({"frame": 0, "object_id": 1, "lable": "x", "box": [0, 0, 1, 1]}, "unknown key"),
        ({"frame": 0, "object_id": 1, "mask": "none.png"}, "does not exist or is not an image"),
        ({"frame": 0, "object_id": 1, "box": [0, 0, 1, 1], "mask": "m.png"}, "either points/box or a mask"),
    ],
)
def test_malformed_prompt_entries(tmp_path, entry, message):
    with pytest.raises(LabelInputError, match=r"prompt 1: .*" + message.replace("(", r"\(")):
        _prompts(tmp_path, [entry])


def test_prompts_outside_the_source_unknown_objects_and_relabels(tmp_path):
    def resolve(entries, **kw):
        args = {"length": 10, "stamps_ns": lambda: [i * 100_000_000 for i in range(10)], "first": 0, "last": None}
        return prompt_file.resolve_frames(_prompts(tmp_path, entries), **{**args, **kw})

    box = {"box": [0, 0, 5, 5]}
    with pytest.raises(LabelInputError, match=r"frame 10 is outside the source, which has 10 images"):
        resolve([{"frame": 10, "object_id": 1, **box}])
    with pytest.raises(LabelInputError, match=r"stamp 5 s is outside the source"):
        resolve([{"stamp": 5.0, "object_id": 1, **box}])
    with pytest.raises(LabelInputError, match=r"frame 1 is outside the labelled range"):
        resolve([{"frame": 1, "object_id": 1, **box}], first=2, last=8)
    with pytest.raises(LabelInputError, match=r"prompt 2: frame 4: a correction \(no label\) for object 9"):
        resolve([{"frame": 0, "object_id": 1, "label": "a", **box}, {"frame": 4, "object_id": 9, **box}])
    with pytest.raises(LabelInputError, match=r"object 1 is 'a'; its label cannot become 'b'"):
        resolve([{"frame": 0, "object_id": 1, "label": "a", **box}, {"frame": 4, "object_id": 1, "label": "b", **box}])
    with pytest.raises(LabelInputError, match=r"above 254"):
        resolve([{"frame": 0, "object_id": 300, **box}], max_id=254)
    with pytest.raises(LabelInputError, match="not valid"):
        (tmp_path / "bad.yaml").write_text("- frame: [0\n")
        prompt_file.load_prompts(str(tmp_path / "bad.yaml"))


def test_stamps_match_the_nearest_image_within_half_a_period():
    stamps = [1000 * 10**9 + i * PERIOD_NS for i in range(5)]
    assert prompt_file.frame_of_stamp(1000.21, stamps) == 2
    assert prompt_file.frame_of_stamp(1000.0, stamps) == 0
    with pytest.raises(ValueError, match="outside the source"):
        prompt_file.frame_of_stamp(999.0, stamps)
    gappy = [0, PERIOD_NS, 2 * PERIOD_NS, 10 * PERIOD_NS]
    with pytest.raises(ValueError, match="matches no image"):
        prompt_file.frame_of_stamp(0.5, gappy)
    # a bag's stamps in recording order need not be sorted
    unsorted = [0, 3 * PERIOD_NS, PERIOD_NS, 2 * PERIOD_NS]
    assert [prompt_file.frame_of_stamp(t * PERIOD_NS / 1e9, unsorted) for t in range(4)] == [0, 2, 3, 1]


def test_mask_pngs_with_an_alpha_channel(tmp_path):
    """Colour channels draw the mask (an opaque black background is background), unless the colour
    is the same everywhere and only the alpha channel varies."""
    square = np.zeros((10, 10), bool)
    square[2:4, 5:7] = True
    opaque = np.zeros((10, 10, 4), np.uint8)
    opaque[..., 3] = 255
    opaque[square, :3] = 255
    cut_out = np.full((10, 10, 4), 255, np.uint8)
    cut_out[..., 3] = np.where(square, 255, 0)
    empty = opaque.copy()
    empty[..., :3] = 0
    for name, image, expected in (("opaque", opaque, square), ("cut_out", cut_out, square),
                                  ("empty", empty, np.zeros_like(square))):  # fmt: skip
        cv2.imwrite(str(tmp_path / f"{name}.png"), image)
        mask, _ = prompt_file._read_mask(tmp_path / f"{name}.png", 1)
        np.testing.assert_array_equal(mask, expected, err_msg=name)


# ---------------------------------------------------------------------------------------------- writers
def test_davis_annotations_are_indexed_pngs(tmp_path):
    labels = _labels().astype(np.uint8)
    path = tmp_path / "00000.png"
    path.write_bytes(encode_index_png(labels))
    with PILImage.open(path) as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), labels)
        np.testing.assert_array_equal(np.asarray(image.getpalette(), np.uint8).reshape(-1, 3)[:256], _voc_palette())
    np.testing.assert_array_equal(read_index_png(path), labels)  # how sam2_core.training reads DAVIS


def test_coco_annotations_decode_to_the_label_image():
    labels = _labels()
    anns = frame_annotations(labels, [(2, "box"), (7, "ball"), (9, "absent")])
    assert [(a["track_id"], a["label"]) for a in anns] == [(2, "box"), (7, "ball")]  # 9 owns no pixel
    for a in anns:
        rle = {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()}
        mask = mask_utils.decode(rle).astype(bool)
        np.testing.assert_array_equal(mask, labels == a["track_id"])
        assert a["area"] == int(mask.sum())
        ys, xs = np.nonzero(mask)
        assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    json.dumps(anns)  # plain JSON (counts are str)


def test_yolo_polygons_rasterise_to_the_objects():
    labels = _labels()
    geometries = object_geometries(labels, [2, 7], epsilon_px=1.0)
    lines = polygon_lines(geometries, {2: 0, 7: 1}, width=60, height=40)
    assert sorted(line.split()[0] for line in lines) == ["0", "1", "1"]  # object 7 is in two pieces
    for object_id, cls in ((2, 0), (7, 1)):
        canvas = np.zeros_like(labels, np.uint8)
        for line in lines:
            values = line.split()
            if int(values[0]) != cls:
                continue
            xy = np.array(values[1:], float).reshape(-1, 2) * [60, 40]
            assert (xy >= 0).all() and (xy <= [60, 40]).all()
            cv2.fillPoly(canvas, [np.rint(xy).astype(np.int32)], 1)
        truth = labels == object_id
        iou = (canvas.astype(bool) & truth).sum() / (canvas.astype(bool) | truth).sum()
        assert iou > 0.9, (object_id, iou)


def test_our_message_types_come_from_msg_files_with_rosidls_hashes():
    """rosbags' type hash of sam2_ros/TrackedObjectArray equals the one colcon's rosidl generated."""
    store = bag_types.require_sam2_types()
    folder = bag_types.find_msg_dir()
    assert folder is not None and (folder / "TrackedObject.msg").is_file()
    fields = {name for name, _ in store.fielddefs[bag_types.TRACKED_OBJECT][1]}
    lines = [line.split("#")[0].split() for line in (folder / "TrackedObject.msg").read_text().splitlines()]
    declared = {w[1] for w in lines if len(w) >= 2 and "=" not in "".join(w)}  # fields, not constants
    assert fields == declared  # whatever msg/ declares, no hard-coded list
    generated = Path(bag_types.__file__).resolve().parents[2] / ".venv" / "share" / "sam2_ros" / "msg"
    if not (generated / "TrackedObjectArray.json").is_file():
        pytest.skip("no colcon-built interfaces beside this checkout")
    for name in ("TrackedObject", "TrackedObjectArray"):
        description = json.loads((generated / f"{name}.json").read_text())
        ours = next(h["hash_string"] for h in description["type_hashes"] if h["type_name"].endswith(f"/{name}"))
        assert store.hash_rihs01(f"sam2_ros/msg/{name}") == ours


def test_bag_objects_follow_the_live_nodes_rules():
    """The rosbags TrackedObject equals sam2_ros.outputs.tracked_object's rclpy message, field by field."""
    from sam2_ros.outputs import tracked_object as node_tracked_object

    store = bag_types.require_sam2_types()
    labels = _labels()
    for geometry, logit in zip(object_geometries(labels, [2, 7, 5]), (1.5, 3.0, -0.5)):
        ours = tracked_object(store, geometry, "thing", logit)
        theirs = node_tracked_object(geometry, label="thing", score_logit=logit)
        assert (ours.id, ours.label, ours.visible, ours.area) == (theirs.id, theirs.label, theirs.visible, theirs.area)
        assert ours.score == pytest.approx(theirs.score)
        np.testing.assert_array_equal(ours.bbox, np.asarray(theirs.bbox, np.float32))
        assert (ours.centroid.x, ours.centroid.y) == (theirs.centroid.x, theirs.centroid.y)
        assert [[(p.x, p.y) for p in c.points] for c in ours.contours] == [
            [(p.x, p.y) for p in c.points] for c in theirs.contours
        ]
        raw = store.serialize_cdr(ours, bag_types.TRACKED_OBJECT)
        assert store.deserialize_cdr(raw, bag_types.TRACKED_OBJECT).area == ours.area
    head = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=5, nanosec=7), frame_id="cam"
    )
    image = label_image_message(store, head, labels)
    back = store.deserialize_cdr(store.serialize_cdr(image, bag_types.IMAGE), bag_types.IMAGE)
    assert (back.encoding, back.step, back.header.stamp.nanosec) == ("mono16", 120, 7)
    np.testing.assert_array_equal(back.data.view("<u2").reshape(40, 60), labels)


def test_ros2_run_label_is_installed():
    """`ros2 run sam2_ros label`: scripts/label is executable, installed by CMakeLists.txt, and runs the CLI."""
    root = Path(__file__).resolve().parents[1]
    script = root / "scripts" / "label"
    assert script.is_file() and os.access(script, os.X_OK)
    installed = " ".join(re.findall(r"install\(PROGRAMS([^)]*)\)", (root / "CMakeLists.txt").read_text())).split()
    assert "scripts/label" in installed
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(script), "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "--prompts FILE" in done.stdout and "--resume" in done.stdout


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    plain = io.StringIO()
    progress = Progress(plain, total=250)
    for _ in range(250):
        progress.update()
    progress.close()
    lines = plain.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["label: 100/250 frames", "label: 200/250 frames"]
    assert "frames/s" in lines[0] and "left" in lines[0]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    progress = Progress(terminal, total=5)
    for _ in range(5):
        progress.update()
    progress.note("a note")
    progress.close()
    text = terminal.getvalue()
    assert "5/5" in text and "frame/s" in text and "a note" in text and "\r" in text  # tqdm redraws in place
