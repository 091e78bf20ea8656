# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""launch/tracker.launch.py (parsed, as `launch` is not installable here), the YAML and RViz configs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import rclpy
import yaml
from fake_tracker import fake_factory
from rclpy.context import Context

from sam2_ros.tracker_node import TrackerNode
from sam2_ros.tracker_parameters import PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch" / "tracker.launch.py"
PARAMS = ROOT / "config" / "tracker.yaml"
RVIZ = ROOT / "config" / "sam2.rviz"


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    ]


def keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


@pytest.fixture(scope="module")
def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def test_launch_file_declares_the_arguments_users_need(launch_tree):
    declared = {c.args[0].value for c in calls(launch_tree, "DeclareLaunchArgument")}
    assert {"image", "camera_info", "model", "checkpoint", "params_file", "namespace"} <= declared
    tunables = {spec.name for spec in PARAMETERS} - {"model", "checkpoint"}
    assert not declared & tunables, "parameters come from the YAML file, not from launch arguments"
    for call in calls(launch_tree, "DeclareLaunchArgument"):
        assert keyword(call, "description") is not None, call.args[0].value
    functions = {f.name for f in launch_tree.body if isinstance(f, ast.FunctionDef)}
    assert "generate_launch_description" in functions


def test_launch_file_starts_executables_that_the_package_installs(launch_tree):
    cmake = (ROOT / "CMakeLists.txt").read_text()
    installed = re.search(r"install\(PROGRAMS([^)]*)\)", cmake).group(1).split()
    nodes = calls(launch_tree, "LifecycleNode") + calls(launch_tree, "Node")
    ours = [n for n in nodes if keyword(n, "package").value == "sam2_ros"]
    assert len(ours) == 1
    tracker = ours[0]
    executable = keyword(tracker, "executable").value
    assert executable == "tracker_node" and keyword(tracker, "name").value == "sam2_tracker"
    assert (ROOT / "scripts" / executable).is_file() and f"scripts/{executable}" in installed
    remapped = {elt.elts[0].value for elt in keyword(tracker, "remappings").elts}
    assert {"image", "camera_info", "clicked_point", "image_mouse_left"} <= remapped
    assert re.search(r"install\(DIRECTORY[^)]*\blaunch\b[^)]*\bconfig\b", cmake)


def test_launch_file_depth_argument_remaps_depth_and_turns_use_depth_on(launch_tree):
    declared = {c.args[0].value: c for c in calls(launch_tree, "DeclareLaunchArgument")}
    assert keyword(declared["depth"], "default_value").value == ""  # no depth unless asked for
    tracker = next(n for n in calls(launch_tree, "LifecycleNode") if keyword(n, "executable").value == "tracker_node")
    assert "depth" in {elt.elts[0].value for elt in keyword(tracker, "remappings").elts}
    sets_use_depth = [
        node
        for node in ast.walk(launch_tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Subscript)
        and getattr(node.targets[0].slice, "value", None) == "use_depth"
        and getattr(node.value, "value", None) is True
    ]
    assert len(sets_use_depth) == 1


def test_launch_file_refers_to_files_that_exist(launch_tree):
    joined = [
        [elt.value for elt in c.args[0].elts[1:] if isinstance(elt, ast.Constant)]
        for c in calls(launch_tree, "PathJoinSubstitution")
    ]
    for parts in joined:
        assert (ROOT.joinpath(*parts)).is_file(), parts
    assert ["config", "tracker.yaml"] in joined and ["config", "sam2.rviz"] in joined


def test_parameters_file_lists_every_parameter_with_its_default():
    data = yaml.safe_load(PARAMS.read_text())
    assert list(data) == ["/**/sam2_tracker"]
    values = data["/**/sam2_tracker"]["ros__parameters"]
    assert list(values) == [spec.name for spec in PARAMETERS]
    for spec in PARAMETERS:
        assert values[spec.name] == spec.default and type(values[spec.name]) is type(spec.default), spec.name


def test_parameters_file_applies_to_the_node_in_any_namespace(tmp_path):
    edited = tmp_path / "tracker.yaml"
    edited.write_text(PARAMS.read_text().replace("max_objects: 16", "max_objects: 7"))
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(edited)])
    try:
        node = TrackerNode(tracker_factory=fake_factory(), namespace="/robot1/arm", context=context)
        try:
            assert node.get_parameter("max_objects").value == 7
            for spec in PARAMETERS:
                if spec.name != "max_objects":
                    assert node.get_parameter(spec.name).value == spec.default, spec.name
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_rviz_config_shows_the_overlay_and_markers_and_has_the_publish_point_tool():
    data = yaml.safe_load(RVIZ.read_text())
    manager = data["Visualization Manager"]
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "/sam2_tracker/overlay"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/sam2_tracker/markers"
    tools = {t["Class"]: t for t in manager["Tools"]}
    assert tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"] == "/clicked_point"
