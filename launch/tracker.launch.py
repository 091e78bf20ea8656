# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Start the sam2_tracker node next to a camera driver (and RViz on request).

ros2 launch sam2_ros tracker.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info \
    checkpoint:=$HOME/sam2.1_hiera_tiny.pt [model:=sam2.1_hiera_small] [namespace:=robot1] [rviz:=true] \
    [depth:=/camera/aligned_depth_to_color/image_raw]

Parameters come from params_file (config/tracker.yaml by default); only model and
checkpoint can be overridden here, and only when given. Giving depth (an aligned depth
image topic) also sets use_depth, so every object gets its 3-D position.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare


def _tracker_node(context, *args, **kwargs):
    """The tracker node; model/checkpoint override the parameters file only when set, depth sets use_depth."""
    overrides = {}
    for name in ("model", "checkpoint"):
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    depth = LaunchConfiguration("depth").perform(context)
    if depth:
        overrides["use_depth"] = True
    return [
        LifecycleNode(
            package="sam2_ros",
            executable="tracker_node",
            name="sam2_tracker",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file")] + ([overrides] if overrides else []),
            remappings=[
                ("image", LaunchConfiguration("image")),
                ("camera_info", LaunchConfiguration("camera_info")),
                ("clicked_point", LaunchConfiguration("clicked_point")),
                ("image_mouse_left", LaunchConfiguration("image_mouse_left")),
                ("depth", depth or "depth"),
            ],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    share = FindPackageShare("sam2_ros")
    default_params = PathJoinSubstitution([share, "config", "tracker.yaml"])
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw",
                              description="sensor_msgs/Image topic to track (its /compressed with"
                              " image_transport:=compressed in the parameters file)"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info",
                              description="sensor_msgs/CameraInfo of that image (RViz clicks, markers)"),
        DeclareLaunchArgument("model", default_value="",
                              description="model name; empty keeps the parameters file's"),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="checkpoint path; empty keeps the parameters file's"),
        DeclareLaunchArgument("params_file", default_value=default_params,
                              description="ros__parameters YAML for the node"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("clicked_point", default_value="/clicked_point",
                              description="RViz 'Publish Point' topic"),
        DeclareLaunchArgument("image_mouse_left", default_value="sam2_tracker/overlay_mouse_left",
                              description="rqt_image_view click topic: it publishes <viewed topic>"
                              "_mouse_left, by default the overlay's"),
        DeclareLaunchArgument("depth", default_value="",
                              description="depth image aligned to the image (e.g. /camera/aligned_depth_to_color/"
                              "image_raw); when given, use_depth is set and objects get 3-D positions"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="also start RViz with config/sam2.rviz"),
    ]  # fmt: skip
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "sam2.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
        output="screen",
    )
    return LaunchDescription([*arguments, OpaqueFunction(function=_tracker_node), rviz])
