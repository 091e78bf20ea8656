# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``python -m sam2_ros.label`` end to end with the bundled nano: recordings in, every dataset format read back.

Bags are written here with rosbags from a synthetic scene (12 frames, 320 x 240, three objects),
prompted from the scene's truth on frame 0 (a box, a click and a mask).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from label_recordings import TOPIC, clip, truth_prompts, write_bag, write_folder, write_prompts, write_video
from pycocotools.coco import COCO
from rosbags.rosbag2 import Reader

import sam2_core
from sam2_core.metrics import evaluate_sequence
from sam2_core.training.data import read_index_png
from sam2_core.training.prompting import mask_box
from sam2_ros.label import main
from sam2_ros.labelling import bag_types

# pycocotools decodes with numpy 1 semantics (numpy 2 warns on every mask)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
REPO = Path(__file__).resolve().parents[1]
NODE = "/sam2_tracker"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One PyTorch thread: on a shared 2-core machine a second thread mostly waits for the other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A sqlite3 bag of raw rgb8 images (plus /chatter) and a prompts file from the truth."""
    root = tmp_path_factory.mktemp("recording")
    scene = clip()
    bag = write_bag(root / "walk", scene.frames)
    prompts = write_prompts(root / "prompts.yaml", truth_prompts(scene.masks[0], root))
    return types.SimpleNamespace(root=root, bag=bag, prompts=prompts, scene=scene)


def label(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def labelled(recording, tmp_path_factory):
    """The bag labelled once into every format, with a review video."""
    out = tmp_path_factory.mktemp("labelled") / "out"
    video = out.parent / "review.mp4"
    assert label(recording.bag, "--out", out, "--prompts", recording.prompts, "--video", video) == 0
    return types.SimpleNamespace(out=out, video=video)


def coco_masks(path: Path, num_frames: int, num_objects: int, frames=None) -> tuple[np.ndarray, COCO]:
    """T x K x H x W masks decoded with pycocotools (object k = track_id k + 1), frames by frame_index."""
    coco = COCO(str(path))
    h, w = coco.dataset["images"][0]["height"], coco.dataset["images"][0]["width"]
    frames = list(range(num_frames)) if frames is None else frames
    masks = np.zeros((len(frames), num_objects, h, w), bool)
    for image in coco.dataset["images"]:
        t = frames.index(image["frame_index"])
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
            masks[t, ann["track_id"] - 1] = coco.annToMask(ann).astype(bool)
    return masks, coco


def bag_messages(path: Path) -> dict[str, list[tuple[int, object]]]:
    store = bag_types.require_sam2_types()
    out: dict[str, list] = {}
    with Reader(path) as reader:
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, store.deserialize_cdr(raw, conn.msgtype), bytes(raw)))
    return out


# ------------------------------------------------------------------------------------- one bag, every format
def test_coco_masks_meet_the_bar(recording, labelled, capsys):
    scene = recording.scene
    masks, coco = coco_masks(labelled.out / "coco" / "annotations.json", 12, 3)
    jf = evaluate_sequence(masks, scene.masks)["J&F"]
    assert jf >= 0.85, f"J&F {jf:.3f} of the COCO masks against the truth"
    assert [c["name"] for c in coco.dataset["categories"]] == ["disc", "block", "shape"]
    assert len(coco.dataset["images"]) == 12 and len(coco.dataset["annotations"]) == 36
    ann = coco.dataset["annotations"][0]
    assert ann["iscrowd"] == 0 and ann["area"] > 0 and len(ann["bbox"]) == 4 and isinstance(ann["segmentation"], dict)
    for image in coco.dataset["images"]:
        assert (labelled.out / "coco" / "images" / image["file_name"]).is_file()
    run = json.loads((labelled.out / ".sam2_label" / "run.json").read_text())
    assert run["complete"] and not (labelled.out / ".sam2_label" / "tracker.pkl").exists()


def test_davis_output_is_read_by_evaluate_and_train(recording, labelled, tmp_path, capsys):
    from sam2_core.evaluate import main as evaluate_main
    from sam2_core.train import main as train_main

    davis = labelled.out / "davis"
    pngs = sorted((davis / "Annotations" / "walk").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(12)]
    assert len(list((davis / "JPEGImages" / "walk").glob("*.jpg"))) == 12
    labels = np.stack([read_index_png(p) for p in pngs])
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    gt = labels[:, None] == np.arange(1, 4)[None, :, None, None]
    assert evaluate_sequence(gt, recording.scene.masks)["J&F"] >= 0.85

    result = tmp_path / "eval.json"
    assert evaluate_main(["--model", "sam2.1_hiera_nano", "--data", str(davis), "--json", str(result)]) == 0
    summary = json.loads(result.read_text())["summary"]
    assert summary["num_objects"] == 3 and summary["J&F"] > 0.7  # the nano's clicks against its own labels
    args = ["--model", "sam2.1_hiera_nano", "--data", str(davis), "--steps", "2", "--out", str(tmp_path / "ft")]
    assert train_main([*args, "--batch-size", "1", "--clip-len", "3", "--device", "cpu", "--log-every", "1"]) == 0
    assert (tmp_path / "ft" / "checkpoint.pt").is_file()


def test_yolo_polygons_rasterise_to_the_labels(labelled):
    yolo = labelled.out / "yolo"
    data = yaml.safe_load((yolo / "data.yaml").read_text())
    assert data["names"] == {0: "disc", 1: "block", 2: "shape"} and data["train"] == "images"
    labels = sorted((yolo / "labels").glob("*.txt"))
    assert len(labels) == 12 and len(list((yolo / "images").glob("*.jpg"))) == 12
    for txt in labels:
        index = int(txt.stem.rsplit("_", 1)[1])
        truth = read_index_png(labelled.out / "davis" / "Annotations" / "walk" / f"{index:05d}.png")
        drawn = np.zeros((3, 240, 320), np.uint8)
        for line in txt.read_text().splitlines():
            values = line.split()
            xy = np.array(values[1:], float).reshape(-1, 2) * [320, 240]
            cv2.fillPoly(drawn[int(values[0])], [np.rint(xy).astype(np.int32)], 1)
        for k in range(3):
            mask = truth == k + 1
            iou = (drawn[k].astype(bool) & mask).sum() / max(1, (drawn[k].astype(bool) | mask).sum())
            assert iou > 0.85, (txt.name, k, iou)


def test_annotated_bag_has_one_label_image_per_image(recording, labelled):
    messages = bag_messages(labelled.out / "bag")
    images, label_images, objects = messages[TOPIC], messages[f"{NODE}/label_image"], messages[f"{NODE}/objects"]
    assert len(images) == len(label_images) == len(objects) == 12
    assert len(messages["/chatter"]) == 3  # the rest of the input is copied
    for (t_img, img, _), (t_lab, lab, _), (t_obj, obj, _) in zip(images, label_images, objects):
        assert t_img == t_lab == t_obj  # recorded with their image
        assert lab.header == img.header == obj.header  # stamp and frame_id
        assert (lab.encoding, lab.width, lab.height) == ("mono16", 320, 240)
        assert [o.id for o in obj.objects] == [1, 2, 3] and all(o.visible for o in obj.objects)
    index = 7
    pixels = label_images[index][1].data.view("<u2").reshape(240, 320)
    davis = read_index_png(labelled.out / "davis" / "Annotations" / "walk" / f"{index:05d}.png")
    np.testing.assert_array_equal(pixels, davis)
    obj = objects[index][1].objects[1]
    assert obj.area == int((pixels == 2).sum()) and obj.label == "block" and len(obj.contours) >= 1
    with Reader(labelled.out / "bag") as reader:
        conn = next(c for c in reader.connections if c.topic == f"{NODE}/objects")
        assert conn.msgtype == bag_types.TRACKED_OBJECT_ARRAY and conn.digest.startswith("RIHS01_")
        assert next(c for c in reader.connections if c.topic == TOPIC).digest  # input definitions kept


def test_annotated_bag_keeps_zero_header_stamps(recording, tmp_path):
    """Images recorded with unset header stamps: prompts and COCO use the recording time, the label
    messages carry the image's header as it is (as the live node's outputs do)."""
    bag = write_bag(tmp_path / "unstamped", recording.scene.frames[:3], zero_stamps=True, extra_topics=False)
    out = tmp_path / "out"
    assert label(bag, "--out", out, "--prompts", recording.prompts, "--format", "bag") == 0
    messages = bag_messages(out / "bag")
    images, label_images = messages[TOPIC], messages[f"{NODE}/label_image"]
    assert len(images) == len(label_images) == 3
    for (t_img, img, _), (t_lab, lab, _), (_, obj, _) in zip(images, label_images, messages[f"{NODE}/objects"]):
        assert t_img == t_lab and (img.header.stamp.sec, img.header.stamp.nanosec) == (0, 0)
        assert lab.header == img.header == obj.header


def test_review_video_and_summary(labelled, recording, tmp_path, capsys):
    capture = cv2.VideoCapture(str(labelled.video))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 12
    # a finished run is not labelled twice, and another run cannot use its folder
    assert label(recording.bag, "--out", labelled.out, "--prompts", recording.prompts, "--resume") == 0
    assert "complete already" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- other sources
def test_compressed_single_mcap_file_every_4th_frame(recording, tmp_path, capsys):
    scene = recording.scene
    bag = write_bag(tmp_path / "cam", scene.frames, storage="mcap", compressed=True)
    (mcap,) = bag.glob("*.mcap")
    out = tmp_path / "out"
    args = ["--format", "coco,bag", "--every", "4", "--threads", "1"]
    assert label(mcap, "--out", out, "--prompts", recording.prompts, *args) == 0
    kept = [0, 4, 8]  # the datasets keep every 4th frame, the bag gets all of them
    masks, _ = coco_masks(out / "coco" / "annotations.json", 0, 3, frames=kept)
    assert evaluate_sequence(masks, scene.masks[kept])["J&F"] >= 0.85
    assert not (out / "davis").exists() and not (out / "yolo").exists()
    assert sorted(p.suffix for p in (out / "bag").iterdir()) == [".mcap", ".yaml"]
    messages = bag_messages(out / "bag")
    assert len(messages[f"{NODE}/label_image"]) == len(messages[TOPIC]) == 12
    assert "12 label images" in capsys.readouterr().out


def test_video_with_every_start_and_end(recording, tmp_path):
    scene = recording.scene
    video = write_video(tmp_path / "clip.avi", scene.frames, fps=10.0)
    prompts = write_prompts(tmp_path / "p.yaml", truth_prompts(scene.masks[2], tmp_path, frame=2))
    out = tmp_path / "out"
    args = ["--every", "3", "--start", "0.2", "--end", "1.0", "--format", "coco,davis,yolo", "--name", "clip"]
    assert label(video, "--out", out, "--prompts", prompts, *args) == 0
    kept = [2, 5, 8]  # frames 2..10 tracked, every third kept
    masks, coco = coco_masks(out / "coco" / "annotations.json", 0, 3, frames=kept)
    assert [i["frame_index"] for i in coco.dataset["images"]] == kept
    assert sorted(p.name for p in (out / "davis" / "Annotations" / "clip").iterdir()) == [f"{i:05d}.png" for i in kept]
    assert len(list((out / "yolo" / "labels").glob("clip_*.txt"))) == 3
    records = [json.loads(line) for line in (out / ".sam2_label" / "frames.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(2, 11))
    assert evaluate_sequence(masks, scene.masks[kept], skip_first=False)["J"] >= 0.8


def test_image_folder_with_stamp_prompts(recording, tmp_path):
    scene = recording.scene
    folder = write_folder(tmp_path / "frames", scene.frames[:6])
    entries = truth_prompts(scene.masks[0], tmp_path)
    for e in entries:  # an image folder's frames are index / --fps seconds apart
        e["stamp"] = 0.0
        del e["frame"]
    prompts = write_prompts(tmp_path / "p.yaml", entries)
    out = tmp_path / "out"
    assert label(folder, "--out", out, "--prompts", prompts, "--format", "coco", "--fps", "5") == 0
    masks, coco = coco_masks(out / "coco" / "annotations.json", 6, 3)
    assert coco.dataset["images"][3]["stamp"] == pytest.approx(0.6)
    assert evaluate_sequence(masks, scene.masks[:6])["J&F"] >= 0.85


# ------------------------------------------------------------------------------------- stop and resume
def _same_datasets(a: Path, b: Path, formats=("coco", "davis", "yolo")) -> None:
    for fmt in formats:
        files_a = sorted(p.relative_to(a) for p in (a / fmt).rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(b) for p in (b / fmt).rglob("*") if p.is_file())
        assert files_a == files_b, fmt
        for rel in files_a:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_resume_gives_the_same_datasets_as_one_run(recording, labelled, tmp_path, capsys):
    out = tmp_path / "out"
    args = [recording.bag, "--out", out, "--prompts", recording.prompts]
    assert label(*args, "--max-frames", "5") == 0
    assert "stopped (--max-frames 5) after frame 4" in capsys.readouterr().out
    # what was done is a valid dataset
    masks, coco = coco_masks(out / "coco" / "annotations.json", 5, 3)
    assert len(coco.dataset["images"]) == 5 and (out / ".sam2_label" / "tracker.pkl").is_file()
    assert len(bag_messages(out / "bag")[f"{NODE}/label_image"]) == 5
    # a second run into the folder is refused, --resume continues it
    assert label(*args) == 2
    assert "holds another labelling run" in capsys.readouterr().err
    snapshot = out / ".sam2_label" / "tracker.pkl"
    after_frame_4 = snapshot.read_bytes()
    assert label(*args, "--resume", "--max-frames", "4") == 0
    assert len(coco_masks(out / "coco" / "annotations.json", 9, 3)[1].dataset["images"]) == 9
    # as if killed after frame 8 with the last snapshot after frame 4: frames 5..8 are done again
    snapshot.write_bytes(after_frame_4)
    assert label(*args, "--resume") == 0
    assert "12 frames tracked (7 in this run" in capsys.readouterr().out
    _same_datasets(out, labelled.out)
    ours, theirs = bag_messages(out / "bag"), bag_messages(labelled.out / "bag")
    for topic in (f"{NODE}/label_image", f"{NODE}/objects", TOPIC, "/chatter"):
        assert [(t, raw) for t, _, raw in ours[topic]] == [(t, raw) for t, _, raw in theirs[topic]], topic


def test_a_hard_stop_inside_a_frame_leaves_none_of_its_files(recording, tmp_path, monkeypatch):
    """A second Ctrl-C (or an error) while a kept frame's files are written: that frame has no record,
    so its DAVIS and YOLO files (which are those datasets) go too."""
    from sam2_ros.labelling import yolo

    folder = write_folder(tmp_path / "frames", recording.scene.frames[:6])
    prompts = write_prompts(tmp_path / "p.yaml", truth_prompts(recording.scene.masks[0], tmp_path))
    lines, calls = yolo.polygon_lines, []

    def stopped_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # frame 4: after its COCO and DAVIS files and the YOLO image
            raise KeyboardInterrupt
        return lines(*args, **kwargs)

    monkeypatch.setattr(yolo, "polygon_lines", stopped_on_the_third)
    out = tmp_path / "out"
    args = ["--format", "coco,davis,yolo", "--every", "2", "--name", "f"]
    assert label(folder, "--out", out, "--prompts", prompts, *args) == 130
    _, coco = coco_masks(out / "coco" / "annotations.json", 0, 3, frames=[0, 2])
    assert [i["frame_index"] for i in coco.dataset["images"]] == [0, 2]
    assert sorted(p.name for p in (out / "coco" / "images").iterdir()) == ["f_00000.jpg", "f_00002.jpg"]
    assert sorted(p.stem for p in (out / "davis" / "Annotations" / "f").iterdir()) == ["00000", "00002"]
    assert sorted(p.stem for p in (out / "davis" / "JPEGImages" / "f").iterdir()) == ["00000", "00002"]
    assert sorted(p.stem for p in (out / "yolo" / "images").iterdir()) == ["f_00000", "f_00002"]
    assert sorted(p.stem for p in (out / "yolo" / "labels").iterdir()) == ["f_00000", "f_00002"]


def test_ctrl_c_leaves_a_valid_dataset_and_resume_finishes_it(recording, labelled, tmp_path):
    out = tmp_path / "out"
    args = [str(recording.bag), "--out", str(out), "--prompts", str(recording.prompts), "--format", "coco,davis"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sam2_ros.label", *args, "--threads", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    frames = out / ".sam2_label" / "frames.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if frames.is_file() and len(frames.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, (stdout, stderr)
    assert "Ctrl-C: stopping after this frame" in stderr and "--resume continues" in stdout
    done = len(frames.read_text().splitlines())
    assert 2 <= done < 12
    _, coco = coco_masks(out / "coco" / "annotations.json", done, 3)
    assert len(coco.dataset["images"]) == done
    assert label(*args, "--resume") == 0
    _same_datasets(out, labelled.out, ("coco", "davis"))


# ------------------------------------------------------------------------------------- bad input: exit 2
@pytest.fixture(scope="module")
def bad(recording, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "broken").mkdir()
    (root / "broken" / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 5}\n")
    bayer = write_bag(root / "bayer", recording.scene.frames[:2], encoding="bayer_rggb8")
    box = {"box": [10, 10, 50, 50]}

    def prompts(name, entries):
        return write_prompts(root / f"{name}.yaml", entries)

    return {
        "missing source": ([root / "nope"], "source '.*nope' does not exist"),
        "unreadable source": ([root / "broken"], "cannot read bag"),
        "unknown topic": ([recording.bag, "--topic", "/camera/depth"], "'/camera/depth' is not in the bag"),
        "non-image topic": ([recording.bag, "--topic", "/chatter"], "is std_msgs/msg/String, not an image topic"),
        "frame outside the source": (
            [recording.bag, "--prompts", prompts("late", [{"frame": 12, "object_id": 1, **box}])],
            "frame 12 is outside the source, which has 12 images",
        ),
        "stamp outside the source": (
            [recording.bag, "--prompts", prompts("early", [{"stamp": 12.5, "object_id": 1, **box}])],
            "stamp 12.5 s is outside the source",
        ),
        "unknown object in a correction": (
            [
                recording.bag,
                "--prompts",
                prompts(
                    "typo", [{"frame": 0, "object_id": 1, "label": "a", **box}, {"frame": 3, "object_id": 4, **box}]
                ),
            ],
            r"a correction \(no label\) for object 4",
        ),
        "unsupported encoding": ([bayer], "unsupported image encoding 'bayer_rggb8'"),
        "bag output of a video": (
            [write_video(root / "v.avi", recording.scene.frames[:2]), "--format", "bag"],
            "--format bag needs a bag source",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing source",
        "unreadable source",
        "unknown topic",
        "non-image topic",
        "frame outside the source",
        "stamp outside the source",
        "unknown object in a correction",
        "unsupported encoding",
        "bag output of a video",
    ],
)
def test_bad_input_exits_2_with_one_line(bad, recording, tmp_path, capsys, case):
    args, message = bad[case]
    if "--prompts" not in args:
        args = [*args, "--prompts", recording.prompts]
    assert label(*args, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("label: error: "), err
    assert re.search(message, err[0]), err[0]
    assert not (tmp_path / "out" / ".sam2_label").exists()  # nothing started


def test_an_output_folder_of_another_run_is_refused(recording, labelled, capsys):
    assert label(recording.bag, "--out", labelled.out, "--prompts", recording.prompts) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "holds another labelling run" in line and "--resume" in line
    assert label(recording.bag, "--out", labelled.out, "--prompts", recording.prompts, "--every", "2", "--resume") == 2
    assert "other settings" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- --auto and --text
def test_auto_and_text_use_sam2_cores_generator_and_detector(recording, tmp_path, monkeypatch, capsys):
    scene = recording.scene
    calls = []

    class Generator:  # stands in for sam2_core.AutomaticMaskGenerator (SAM's "segment everything")
        def __init__(self, model, **kwargs):
            assert isinstance(model, sam2_core.SAM2Model)

        def generate(self, image):
            calls.append(("generate", image.shape))
            return [
                {"segmentation": m, "area": int(m.sum()), "bbox": list(mask_box(m)), "predicted_iou": 0.9 - 0.1 * k}
                for k, m in enumerate(scene.masks[0])
            ]

    class Detection(types.SimpleNamespace):
        pass

    class Detector:  # stands in for sam2_core.detection.OpenVocabularyDetector
        def __init__(self, model, device="cpu", dtype=torch.float32):
            calls.append(("detector", model, device, dtype))

        def detect(self, image, phrases, box_threshold=0.3, text_threshold=0.25):
            calls.append(("detect", list(phrases), box_threshold))
            return [
                Detection(box=list(mask_box(m)), score=0.5 + 0.1 * k, phrase=phrases[k % 2])
                for k, m in enumerate(scene.masks[0])
            ]

    common = [recording.bag, "--end", "0.25", "--format", "coco"]
    # missing: a clear reason, before the model loads
    monkeypatch.delattr(sam2_core, "AutomaticMaskGenerator", raising=False)
    monkeypatch.setitem(sys.modules, "sam2_core.detection", None)
    assert label(*common, "--out", tmp_path / "a0", "--auto") == 2
    assert "--auto needs sam2_core.AutomaticMaskGenerator" in capsys.readouterr().err
    assert label(*common, "--out", tmp_path / "t0", "--text", "disc", "--detector", "gdino") == 2
    assert "--text needs sam2_core.detection.OpenVocabularyDetector" in capsys.readouterr().err
    assert label(*common, "--out", tmp_path / "t1", "--text", "disc") == 2
    assert "--text needs --detector" in capsys.readouterr().err

    monkeypatch.setattr(sam2_core, "AutomaticMaskGenerator", Generator, raising=False)
    assert label(*common, "--out", tmp_path / "auto", "--auto") == 0
    masks, coco = coco_masks(tmp_path / "auto" / "coco" / "annotations.json", 3, 3)
    assert [c["name"] for c in coco.dataset["categories"]] == ["object"]
    # ids 1.. best predicted IoU first, as ~/segment_everything adds them
    assert evaluate_sequence(masks, scene.masks[:3])["J&F"] >= 0.85
    assert calls == [("generate", (240, 320, 3))]

    monkeypatch.setitem(sys.modules, "sam2_core.detection", types.SimpleNamespace(OpenVocabularyDetector=Detector))
    calls.clear()
    args = ["--text", "disc, block", "--detector", "gdino-tiny", "--box-threshold", "0.4", "--device", "cpu"]
    assert label(*common, "--out", tmp_path / "text", *args) == 0
    assert calls == [("detector", "gdino-tiny", "cpu", torch.float32), ("detect", ["disc", "block"], 0.4)]
    masks, coco = coco_masks(tmp_path / "text" / "coco" / "annotations.json", 3, 3)
    assert sorted(c["name"] for c in coco.dataset["categories"]) == ["block", "disc"]
    best_first = [2, 1, 0]  # scores 0.7, 0.6, 0.5
    assert evaluate_sequence(masks, scene.masks[:3, best_first])["J&F"] >= 0.85


# ------------------------------------------------------------------------------------- without ROS
def test_runs_without_any_ros_package(recording, tmp_path):
    """A pip-only install: rclpy, ROS message packages and the generated sam2_ros.msg cannot be imported."""
    out = tmp_path / "out"
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        ROS = ("rclpy", "rcl_interfaces", "std_msgs", "sensor_msgs", "geometry_msgs", "visualization_msgs",
               "builtin_interfaces", "sam2_ros.msg", "sam2_ros.srv")

        class NoRos(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if any(name == r or name.startswith(r + ".") for r in ROS):
                    raise ModuleNotFoundError("No module named " + repr(name), name=name)

        sys.meta_path.insert(0, NoRos())
        from sam2_ros.label import main
        code = main(sys.argv[1:])
        assert not [m for m in sys.modules if m.split(".")[0] in ("rclpy", "std_msgs", "sensor_msgs")], "ROS imported"
        sys.exit(code)
        """
    )
    argv = [recording.bag, "--out", out, "--prompts", recording.prompts, "--end", "0.25", "--format", "coco,bag"]
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, argv), "--threads", "1"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert len(bag_messages(out / "bag")[f"{NODE}/objects"]) == 3


def test_auto_and_text_with_the_real_generator_and_a_real_tiny_detector(recording, tmp_path, capsys):
    """--auto runs sam2_core's AutomaticMaskGenerator with the nano; --text a tiny random OWLv2 saved here."""
    from tiny_detectors import save_tiny_owlv2

    from sam2_ros.demo_scoring import match_objects

    common = [recording.bag, "--end", "0.15", "--format", "coco,davis"]
    assert label(*common, "--out", tmp_path / "auto", "--auto") == 0
    davis = tmp_path / "auto" / "davis" / "Annotations"
    (sequence,) = list(davis.iterdir())
    labels = read_index_png(sorted(sequence.iterdir())[0])
    found = match_objects(labels, recording.scene.masks[0])
    assert len(found) == len(recording.scene.masks[0]), found  # every scene object found (IoU >= 0.5)

    owlv2 = save_tiny_owlv2(tmp_path / "owlv2")
    args = ["--text", "disc, block", "--detector", str(owlv2), "--box-threshold", "0.0", "--device", "cpu"]
    assert label(*common, "--out", tmp_path / "text", *args) == 0  # random weights: boxes anywhere, but boxes
    dataset = json.loads((tmp_path / "text" / "coco" / "annotations.json").read_text())
    assert dataset["categories"] and {c["name"] for c in dataset["categories"]} <= {"disc", "block"}
    missing = tmp_path / "no_such_detector"
    assert label(*common, "--out", tmp_path / "text2", "--text", "disc", "--detector", str(missing)) == 2
    assert "--text: detector" in capsys.readouterr().err
