"""video_source publishes a real video over DDS (another process).

The launch file is well-formed.
"""

import ast
import re
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from poseflow_ros.decode import decode_compressed, decode_raw  # noqa: E402
from poseflow_ros.video import VideoReader  # noqa: E402
from conftest import LAUNCH_ARGS  # noqa: E402
from ros_harness import node_process  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _source(*params):
    return node_process(
        'video_source_node', *params, params_file=ROOT / 'config' / 'video_source.yaml'
    )


def test_video_source_publishes_frames_in_order(walk_video):
    rclpy.init()
    node = Node('test_video_sink')
    got, gotc = [], []
    node.create_subscription(Image, 'image', got.append, 50)
    node.create_subscription(CompressedImage, 'image/compressed', gotc.append, 50)
    proc = _source(
        f'video_path:={walk_video}',
        'max_frames:=6',
        'wait_for_subscribers:=10.0',
        'frame_id:=front_cam',
        'encoding:=rgb8',
        'publish_compressed:=true',
    )
    try:
        t_end = time.monotonic() + 30
        while time.monotonic() < t_end and (len(got) < 6 or len(gotc) < 6):
            rclpy.spin_once(node, timeout_sec=0.1)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert 'published 6 frames' in out
    finally:
        proc.kill()
        node.destroy_node()
        rclpy.shutdown()
    assert len(got) == 6 and len(gotc) == 6
    reader = VideoReader(walk_video)
    first = reader.read()
    reader.close()
    m = got[0]
    assert (m.height, m.width, m.encoding, m.header.frame_id) == (360, 640, 'rgb8', 'front_cam')
    np.testing.assert_array_equal(decode_raw(m.data, m.height, m.width, m.encoding, m.step), first)
    jpg = decode_compressed(gotc[0].data, gotc[0].format)
    assert np.abs(jpg.astype(int) - first.astype(int)).mean() < 4.0
    stamps = [x.header.stamp.sec + x.header.stamp.nanosec * 1e-9 for x in got]
    gaps = np.diff(stamps)
    assert (gaps > 0).all()
    assert abs(np.median(gaps) - 1 / 25.0) < 0.015  # the file's 25 fps


def test_video_source_fails_fast_without_a_file(tmp_path):
    p = _source()  # config/video_source.yaml leaves video_path empty
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 2 and 'video_path' in out
    p = _source(f'video_path:={tmp_path / "nope.mp4"}')
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 2 and 'not found' in out


def test_launch_file_declares_arguments_and_real_executables():
    src = (ROOT / 'launch' / 'pose_tracking.launch.py').read_text()
    tree = ast.parse(src)
    assert any(
        isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
        for n in tree.body
    )
    # the declared arguments and their defaults, read from the syntax tree (not the layout)
    args = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'DeclareLaunchArgument':
            default = {k.arg: k.value for k in n.keywords}.get('default_value')
            args[n.args[0].value] = default.value if isinstance(default, ast.Constant) else None
    assert set(args) == LAUNCH_ARGS
    # launch defaults = the node's defaults as documented in config/pose_tracking.yaml
    import yaml

    node = yaml.safe_load((ROOT / 'config' / 'pose_tracking.yaml').read_text())['pose_tracker'][
        'ros__parameters'
    ]
    for name in ('publish_debug_image', 'autostart', 'use_depth'):
        assert args[name] == str(node[name]).lower(), name
    execs = set(re.findall(r"executable='(\w+)'", src)) - {'rviz2'}
    assert execs == {'video_source', 'pose_tracker'}
    cmake = (ROOT / 'CMakeLists.txt').read_text()
    for e in execs:
        assert re.search(rf'\b{e}:poseflow_ros\.', cmake), (
            f'{e} is not installed by CMakeLists.txt'
        )
    for cfg in re.findall(r"'config', '([\w.]+)'", src):
        assert (ROOT / 'config' / cfg).is_file(), cfg


def test_launch_description_builds_when_launch_is_installed(tmp_path):
    """The launch description builds.

    Its nodes for given arguments (no processes started; test_launch.py runs it for real).
    """
    pytest.importorskip('launch_ros', reason='the ROS 2 launch wheels are not installed')
    import importlib.util

    import yaml
    from launch import LaunchContext

    spec = importlib.util.spec_from_file_location(
        'pt_launch', ROOT / 'launch' / 'pose_tracking.launch.py'
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ld = mod.generate_launch_description()
    defaults = {a.name: a.default_value[0].text for a in ld.get_launch_arguments()}
    assert (
        len(defaults) == 11
        and defaults['namespace'] == ''
        and defaults['publish_debug_image'] == 'false'
    )

    def nodes(**overrides):
        ctx = LaunchContext()
        ctx.launch_configurations.update({**defaults, **overrides})
        return {n.node_executable: n for n in mod._setup(ctx, ROOT)}

    assert set(nodes()) == {'pose_tracker'}  # a camera: no video_source, no rviz
    assert set(nodes(video_file='/v.mp4', rviz='true')) <= {
        'video_source',
        'pose_tracker',
        'rviz2',
    }
    assert 'video_source' in nodes(video_file='/v.mp4')
    # a namespaced node gets the params file's pose_tracker: section under its full name
    p = tmp_path / 'p.yaml'
    p.write_text(
        'pose_tracker:\n  ros__parameters:\n    marker_depth: 3.0\n/**:\n  ros__parameters: {}\n'
    )
    assert mod._params_file_for(str(p), 'pose_tracker', '/pose_tracker') == str(p)
    q = mod._params_file_for(str(p), 'pose_tracker', '/robot1/pose_tracker')
    assert yaml.safe_load(Path(q).read_text()) == {
        '/robot1/pose_tracker': {'ros__parameters': {'marker_depth': 3.0}},
        '/**': {'ros__parameters': {}},
    }
    Path(q).unlink()
