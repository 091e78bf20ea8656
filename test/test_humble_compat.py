# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Humble (Python 3.10, launch 1.0, launch_ros 0.19, CMake 3.22) can build and run what this repository ships.

No Humble install is reachable here, so these are static checks: ruff's py310 target really
covers every Python file (it reports syntax newer than 3.10); no standard-library name newer than
3.10 is used; the launch files, CMakeLists.txt and package.xml use only names Humble offers.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.prefix) / "bin" / "ruff"
SKIP_DIRS = {".git", "build", "demo_output", "__pycache__", ".pytest_cache", ".ruff_cache", "install", "log"}

# Standard-library names added after Python 3.10 (the common ones), as module -> names ("" = the module).
NEWER_THAN_310 = {
    "tomllib": {""},
    "wsgiref.types": {""},
    "typing": {"Self", "LiteralString", "Never", "assert_never", "assert_type", "reveal_type", "Required",
               "NotRequired", "TypeVarTuple", "Unpack", "dataclass_transform", "override", "TypeAliasType",
               "get_overloads", "clear_overloads"},
    "enum": {"StrEnum", "ReprEnum", "EnumCheck", "FlagBoundary", "verify", "member", "nonmember", "global_enum",
             "property"},
    "datetime": {"UTC"},
    "asyncio": {"TaskGroup", "timeout", "timeout_at", "Runner", "Barrier"},
    "contextlib": {"chdir"},
    "hashlib": {"file_digest"},
    "itertools": {"batched"},
    "operator": {"call"},
    "math": {"cbrt", "exp2"},
    "sys": {"exception", "activate_stack_trampoline"},
    "logging": {"getLevelNamesMapping"},
}  # fmt: skip
NEWER_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}

# What Humble's first launch (1.0) and launch_ros (0.19) releases export, among what launch files commonly use.
# (Later Humble syncs backported e.g. EqualsSubstitution and IfElseSubstitution; a Humble install from 2022
# lacks them, so they stay out.)
HUMBLE_LAUNCH = {
    "launch": {"LaunchDescription", "LaunchContext", "Action", "Substitution", "Condition", "LaunchService"},
    "launch.actions": {"DeclareLaunchArgument", "EmitEvent", "ExecuteProcess", "GroupAction",
                       "IncludeLaunchDescription", "LogInfo", "OpaqueFunction", "RegisterEventHandler",
                       "SetEnvironmentVariable", "SetLaunchConfiguration", "Shutdown", "TimerAction",
                       "UnsetEnvironmentVariable", "PushLaunchConfigurations", "PopLaunchConfigurations"},
    "launch.conditions": {"IfCondition", "UnlessCondition", "LaunchConfigurationEquals",
                          "LaunchConfigurationNotEquals"},
    "launch.substitutions": {"LaunchConfiguration", "PathJoinSubstitution", "TextSubstitution", "PythonExpression",
                             "EnvironmentVariable", "FindExecutable", "Command", "AndSubstitution",
                             "OrSubstitution", "NotSubstitution", "ThisLaunchFileDir", "AnonName"},
    "launch.launch_description_sources": {"PythonLaunchDescriptionSource"},
    "launch_ros.actions": {"Node", "LifecycleNode", "ComposableNodeContainer", "LoadComposableNodes",
                           "PushRosNamespace", "SetParameter", "SetRemap"},
    "launch_ros.substitutions": {"FindPackageShare", "FindPackagePrefix", "ExecutableInPackage"},
    "launch_ros.parameter_descriptions": {"ParameterValue", "ParameterFile"},
}  # fmt: skip
# CMake commands available with Humble's CMake (3.22, Ubuntu 22.04) and its ament_cmake / rosidl.
HUMBLE_CMAKE = {
    "cmake_minimum_required", "project", "find_package", "if", "else", "elseif", "endif", "install", "set",
    "message", "foreach", "endforeach", "rosidl_generate_interfaces", "ament_export_dependencies", "ament_package",
    "_ament_cmake_python_get_python_install_dir", "ament_python_install_package", "ament_add_pytest_test",
}  # fmt: skip
# package.xml keys that Humble's rosdep / ament index resolve.
HUMBLE_PACKAGES = {
    "ament_cmake", "ament_cmake_python", "rosidl_default_generators", "rosidl_default_runtime", "std_msgs",
    "geometry_msgs", "sensor_msgs", "rclpy", "std_srvs", "visualization_msgs", "diagnostic_msgs", "lifecycle_msgs",
    "launch", "launch_ros", "python3-numpy", "python3-opencv", "python3-yaml", "python3-pytest", "tf2_ros",
    "rviz2", "cv_bridge", "message_filters", "vision_msgs", "image_transport", "rosidl_interface_packages",
}  # fmt: skip


def python_files() -> list[Path]:
    """Every Python file of the repository: *.py and the extension-less executables with a python shebang."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".venv")]
        for name in files:
            path = Path(folder) / name
            if name.endswith(".py"):
                found.append(path)
            elif "." not in name and path.read_bytes()[:64].startswith(b"#!") and b"python" in path.read_bytes()[:64]:
                found.append(path)
    return sorted(found)


def test_ruff_targets_python_3_10_and_checks_every_python_file():
    config = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^target-version = "py310"$', config, re.M)
    listed = subprocess.run([str(RUFF), "check", "--show-files", "."], cwd=ROOT, capture_output=True, text=True)
    checked = {Path(line.strip()) for line in listed.stdout.splitlines() if line.strip().startswith("/")}
    missing = [str(p.relative_to(ROOT)) for p in python_files() if p not in checked]
    assert not missing, f"ruff does not check {missing}"


def test_ruff_reports_syntax_newer_than_python_3_10_in_the_package():
    snippet = "try:\n    pass\nexcept* ValueError:\n    pass\n\n\ntype Alias = int\n"
    out = subprocess.run([str(RUFF), "check", "--stdin-filename", "sam2_ros/new_module.py", "-"], cwd=ROOT,
                         input=snippet, capture_output=True, text=True)  # fmt: skip
    assert out.returncode != 0
    assert "Cannot use `except*` on Python 3.10" in out.stdout and "on Python 3.10" in out.stdout


def test_no_standard_library_name_newer_than_python_3_10_is_used():
    uses = []
    for path in python_files():
        if path == Path(__file__):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if "" in NEWER_THAN_310.get(alias.name, ()):
                        uses.append(f"{path.name}: import {alias.name}")
                    aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = NEWER_THAN_310.get(node.module, set())
                uses += [f"{path.name}: from {node.module} import {a.name}" for a in node.names if a.name in names]
                if "" in names:
                    uses.append(f"{path.name}: from {node.module}")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                module = aliases.get(node.value.id)
                if module and node.attr in NEWER_THAN_310.get(module, ()):
                    uses.append(f"{path.name}: {module}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in NEWER_BUILTINS:
                uses.append(f"{path.name}: {node.id}")
    assert not uses, uses


def test_launch_files_use_only_what_humble_launch_and_launch_ros_offer():
    launch_files = sorted((ROOT / "launch").glob("*.launch.py"))
    assert launch_files
    for path in launch_files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in ("launch", "launch_ros"):
                unknown = {a.name for a in node.names} - HUMBLE_LAUNCH.get(node.module, set())
                assert not unknown, f"{path.name}: {node.module}.{unknown} is not in Humble's launch"
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LifecycleNode":
                given = {k.arg for k in node.keywords}
                assert {"name", "namespace"} <= given, f"{path.name}: Humble's LifecycleNode needs name and namespace"


def test_cmake_and_package_xml_keep_to_humble():
    cmake = (ROOT / "CMakeLists.txt").read_text()
    code = re.sub(r"#[^\n]*", "", cmake)
    (minimum,) = re.findall(r"cmake_minimum_required\(VERSION ([\d.]+)\)", code)
    assert tuple(int(v) for v in minimum.split(".")) <= (3, 22), "Ubuntu 22.04 (Humble) has CMake 3.22"
    commands = set(re.findall(r"^\s*(\w+)\s*\(", code, re.M))
    assert commands <= HUMBLE_CMAKE, commands - HUMBLE_CMAKE
    package = ET.parse(ROOT / "package.xml").getroot()
    assert package.get("format") == "3"
    keys = {e.text for e in package if e.tag.endswith("depend") or e.tag == "member_of_group"}
    assert keys <= HUMBLE_PACKAGES, keys - HUMBLE_PACKAGES
    assert package.find("export/build_type").text == "ament_cmake"
