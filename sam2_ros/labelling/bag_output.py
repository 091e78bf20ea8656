# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Annotated bag output: the input bag copied, plus ``/<node>/label_image`` (mono16) and ``/<node>/objects``.

Written with rosbags (no ROS install needed), in the input's storage (sqlite3 or mcap). The label
messages carry their image's header and recording time, so ``ros2 bag play`` replays them with
the images as the live ``sam2_tracker`` would have published them. During the run each tracked
frame's label image is kept as a 16-bit PNG in the run's state folder; ``finish`` writes the whole
bag from those in one pass over the input (rosbags cannot append to a bag, and a resumed run must
give the same bag as one run).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sam2_ros.labelling import bag_types
from sam2_ros.outputs import ObjectGeometry, object_geometries, presence_probability

BAG_VERSION = 8  # rosbag2 metadata version (Jazzy's); the newest (9) changes how QoS is stored


def tracked_object(store: Any, geometry: ObjectGeometry, label: str, score_logit: float) -> Any:
    """A sam2_ros/TrackedObject as rosbags message, by the live node's rules (sam2_ros.outputs.tracked_object):
    visible when the model says present and the object owns pixels; geometry only when visible."""
    visible = score_logit > 0 and geometry.area > 0
    values: dict[str, Any] = {
        "id": int(geometry.object_id),
        "label": label,
        "score": presence_probability(score_logit),
        "visible": bool(visible),
    }
    if visible:
        point = store.types["geometry_msgs/msg/Point"]
        point32 = store.types["geometry_msgs/msg/Point32"]
        polygon = store.types["geometry_msgs/msg/Polygon"]
        values.update(
            bbox=np.array(geometry.bbox, dtype=np.float32),
            area=int(geometry.area),
            centroid=point(x=float(geometry.centroid[0]), y=float(geometry.centroid[1]), z=0.0),
            contours=[
                polygon(points=[point32(x=float(x), y=float(y), z=0.0) for x, y in contour.tolist()])
                for contour in geometry.contours
            ],
        )
    return bag_types.default_message(store, bag_types.TRACKED_OBJECT, **values)


def header(store: Any, stamp_ns: int, frame_id: str) -> Any:
    time = store.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)
    return store.types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def label_image_message(store: Any, head: Any, labels: np.ndarray) -> Any:
    """sensor_msgs/Image, mono16 little-endian, of an ``H x W`` uint16 label image."""
    h, w = labels.shape
    data = np.ascontiguousarray(labels, dtype="<u2").view(np.uint8).reshape(-1)
    return bag_types.default_message(
        store, bag_types.IMAGE, header=head, height=h, width=w, encoding="mono16", is_bigendian=0, step=w * 2, data=data
    )


class BagWriter:
    """Keeps every tracked frame's label image; writes ``DIR/bag/`` at ``finish``."""

    name = "bag"

    def __init__(self, out: Path, state_dir: Path, source: Any, node_name: str, epsilon_px: float) -> None:
        self.out = out / "bag"
        self.state_dir = state_dir
        self.labels_dir = state_dir / "labels"
        self.source, self.node_name, self.epsilon_px = source, node_name.strip("/"), epsilon_px
        self.store = bag_types.require_sam2_types()

    def _png(self, index: int) -> Path:
        return self.labels_dir / f"{index:06d}.png"

    def open(self) -> None:
        self.labels_dir.mkdir(parents=True, exist_ok=True)

    def add_frame(self, index: int, labels: np.ndarray) -> None:
        if not cv2.imwrite(str(self._png(index)), labels.astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"cannot write {self._png(index)}")

    def forget(self, index: int) -> None:
        self._png(index).unlink(missing_ok=True)

    def finish(self, records: list[dict], categories: list[str], info: Mapping) -> str:
        from rosbags.rosbag2 import StoragePlugin, Writer

        by_index = {r["index"]: r for r in records}
        store, source = self.store, self.source
        staging = self.state_dir / "bag"  # the folder's name is the bag file's name
        shutil.rmtree(staging, ignore_errors=True)
        plugin = StoragePlugin.MCAP if source.storage == "mcap" else StoragePlugin.SQLITE3
        labelled = 0
        with Writer(staging, version=BAG_VERSION, storage_plugin=plugin) as writer:
            copies, same, skipped = {}, {}, []
            for c in source.reader.connections:
                key = (c.topic, c.msgtype, repr(c.ext))  # mcap may hold several identical channels of a topic
                if key not in same:
                    same[key] = self._copy_connection(writer, c)
                    if same[key] is None:
                        skipped.append(f"{c.topic} ({c.msgtype}: the bag holds no definition of it)")
                copies[c.id] = same[key]
            qos = source.connections[0].ext.offered_qos_profiles
            topic = f"/{self.node_name}"
            label_conn = writer.add_connection(
                f"{topic}/label_image", bag_types.IMAGE, typestore=store, offered_qos_profiles=qos
            )
            objects_conn = writer.add_connection(
                f"{topic}/objects", bag_types.TRACKED_OBJECT_ARRAY, typestore=store, offered_qos_profiles=qos
            )
            image_ids = {c.id for c in source.connections}
            index = 0
            for conn, log_time, raw in source.reader.messages():
                if copies[conn.id] is not None:
                    writer.write(copies[conn.id], log_time, raw)
                if conn.id not in image_ids:
                    continue
                record = by_index.get(index)
                index += 1
                if record is None or not self._png(record["index"]).is_file():
                    continue
                labels = cv2.imread(str(self._png(record["index"])), cv2.IMREAD_UNCHANGED)
                # the image's own header, as the live node's outputs carry it (a zero stamp stays zero)
                stamp = record.get("header_stamp_ns", record["stamp_ns"])
                head = header(store, stamp, record.get("frame_id", ""))
                image = label_image_message(store, head, labels)
                writer.write(label_conn, log_time, store.serialize_cdr(image, bag_types.IMAGE))
                objects = record["objects"]
                geometries = object_geometries(labels, [o["id"] for o in objects], self.epsilon_px)
                array = bag_types.default_message(
                    store,
                    bag_types.TRACKED_OBJECT_ARRAY,
                    header=head,
                    objects=[tracked_object(store, g, o["label"], o["score"]) for g, o in zip(geometries, objects)],
                )
                writer.write(objects_conn, log_time, store.serialize_cdr(array, bag_types.TRACKED_OBJECT_ARRAY))
                labelled += 1
        shutil.rmtree(self.out, ignore_errors=True)
        shutil.move(str(staging), str(self.out))
        summary = f"{self.out} ({source.storage}, {labelled} label images on {topic}/label_image and {topic}/objects)"
        return summary + (f"; not copied: {', '.join(skipped)}" if skipped else "")

    def topics(self) -> tuple[str, str]:
        topic = f"/{self.node_name}"
        return f"{topic}/label_image", f"{topic}/objects"

    def _copy_connection(self, writer: Any, conn: Any) -> Any:
        """The output connection for an input one, with its definition and type hash (None: not copyable)."""
        ext = conn.ext
        if conn.msgdef.data and conn.digest:
            return writer.add_connection(
                conn.topic,
                conn.msgtype,
                msgdef=conn.msgdef.data,
                rihs01=conn.digest,
                serialization_format=ext.serialization_format,
                offered_qos_profiles=ext.offered_qos_profiles,
            )
        if conn.msgtype in self.store.fielddefs:  # e.g. sqlite3 bags of Humble, which store no definitions
            return writer.add_connection(
                conn.topic, conn.msgtype, typestore=self.store, offered_qos_profiles=ext.offered_qos_profiles
            )
        return None
