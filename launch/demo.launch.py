# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The `make demo` graph on a ROS install: synthetic video_source -> sam2_tracker -> demo_planner (+ RViz).

ros2 launch sam2_ros demo.launch.py [rviz:=true] [rate_hz:=2.0] [num_frames:=72] [output_dir:=demo_output]
    [depth:=true] [auto:=true]

Unlike `make demo` (one process, the source paced by the tracker), the source runs on its own
timer here: set rate_hz below what the tracker sustains (see its /diagnostics), or frames are
dropped and left out of the score. The planner logs the summary line after the last frame.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare


def _value(name: str, value_type: type) -> ParameterValue:
    return ParameterValue(LaunchConfiguration(name), value_type=value_type)


def generate_launch_description():
    share = FindPackageShare("sam2_ros")
    arguments = [
        DeclareLaunchArgument("model", default_value="sam2.1_hiera_nano", description="tracker model name"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="checkpoint path; empty = the node's default for the model"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda or cuda:N"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "tracker.yaml"]),
                              description="ros__parameters YAML for the tracker"),
        DeclareLaunchArgument("seed", default_value="5", description="synthetic scene seed"),
        DeclareLaunchArgument("num_objects", default_value="4",
                              description="objects in the scene; the last one is prompted later"),
        DeclareLaunchArgument("num_frames", default_value="72", description="frames in the scene"),
        DeclareLaunchArgument("width", default_value="640", description="frame width"),
        DeclareLaunchArgument("height", default_value="480", description="frame height"),
        DeclareLaunchArgument("rate_hz", default_value="2.0",
                              description="source frame rate; keep it below the tracker's throughput"),
        DeclareLaunchArgument("loop", default_value="false", description="replay the scene endlessly"),
        DeclareLaunchArgument("output_dir", default_value="demo_output",
                              description="where the planner writes overlay.mp4, PNGs and the score"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="also start RViz with config/sam2.rviz"),
        DeclareLaunchArgument("depth", default_value="false",
                              description="also publish the scene's depth, track in 3-D and score the positions"),
        DeclareLaunchArgument("auto", default_value="false",
                              description="no scripted prompts: the planner calls ~/segment_everything once on"
                              " the first frame and scores what was found"),
    ]  # fmt: skip
    scene = {
        "seed": _value("seed", int),
        "num_objects": _value("num_objects", int),
        "num_frames": _value("num_frames", int),
        "width": _value("width", int),
        "height": _value("height", int),
    }
    source = Node(
        package="sam2_ros",
        executable="video_source",
        name="video_source",
        parameters=[{
            **scene,
            "source": "synthetic",
            "rate_hz": _value("rate_hz", float),
            "loop": _value("loop", bool),
            "frame_id": "camera_optical_frame",
            "reliability": "reliable",
            # the tracker and the planner: the planner counts images to know frame indices
            "wait_for_subscribers": 2,
            "publish_depth": _value("depth", bool),
        }],
        remappings=[("image", "/camera/image_raw"), ("camera_info", "/camera/camera_info"),
                    ("depth", "/camera/depth/image_raw")],
        output="screen",
    )  # fmt: skip
    tracker = LifecycleNode(
        package="sam2_ros",
        executable="tracker_node",
        name="sam2_tracker",
        namespace="",
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model": _value("model", str),
                "checkpoint": _value("checkpoint", str),
                "device": _value("device", str),
                # 640 x 480 rgb8 frames sent best effort between processes can be lost entirely
                # (seen with Fast DDS here); every frame of the demo must arrive
                "image_reliability": "reliable",
                "use_depth": _value("depth", bool),
            },
        ],
        remappings=[
            ("image", "/camera/image_raw"),
            ("camera_info", "/camera/camera_info"),
            ("image_mouse_left", "sam2_tracker/overlay_mouse_left"),
            ("depth", "/camera/depth/image_raw"),
        ],
        output="screen",
        emulate_tty=True,
    )
    planner = Node(
        package="sam2_ros",
        executable="demo_planner",
        name="demo_planner",
        parameters=[{**scene, "tracker": "sam2_tracker", "output_dir": _value("output_dir", str),
                     "video_fps": _value("rate_hz", float), "score_depth": _value("depth", bool),
                     "auto": _value("auto", bool)}],
        remappings=[("image", "/camera/image_raw")],
        output="screen",
    )  # fmt: skip
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "sam2.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
        output="screen",
    )
    return LaunchDescription([*arguments, source, tracker, planner, rviz])
