"""launch/pose_tracking.launch.py run for real.

In-process with launch_pytest (video_source -> pose_tracker over DDS, rviz:=true without rviz2),
then `ros2 launch` as a subprocess (by package name, in a namespace, stopped with SIGINT as Ctrl-C
does), and --show-args. Two launches in all (each loads the models).
"""

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='the ROS 2 launch wheels are not installed'
)
psutil = pytest.importorskip('psutil')
import launch  # noqa: E402
import rclpy  # noqa: E402
import rclpy.parameter  # noqa: E402
import yaml  # noqa: E402
from launch.actions import IncludeLaunchDescription, RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessExit, OnProcessIO  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rclpy.signals import SignalHandlerOptions  # noqa: E402

from conftest import LAUNCH_ARGS  # noqa: E402
from poseflow_ros.msg import TrackedPoseArray  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = ROOT / 'launch' / 'pose_tracking.launch.py'
ROS2 = Path(sys.executable).with_name('ros2')
ARGS = LAUNCH_ARGS
START_S = 60.0  # models load in a few seconds on 2 busy cores; generous for a loaded machine


class Listener:
    """TrackedPoseArray subscriber (and parameter client) spinning in a thread.

    It has its own rclpy context (no signal handlers), so it does not interfere with the launch's
    event loop or other tests.
    """

    def __init__(self, topics):
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f'test_launch_listener_{os.getpid()}', context=self.ctx)
        self.msgs = {t: [] for t in topics}
        for t in topics:  # best effort: matches a reliable publisher too
            self.node.create_subscription(
                TrackedPoseArray, t, self.msgs[t].append, qos_profile_sensor_data
            )
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        while self.ctx.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except Exception:  # context shut down mid-spin
                break

    def with_people(self, topic):
        return [m for m in list(self.msgs[topic]) if m.poses]

    def wait_for_people(self, topic, timeout=START_S, proc=None):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end and not self.with_people(topic):
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.2)
        return self.with_people(topic)

    def get_params(self, node_fqn, names, timeout=10.0):
        cli = self.node.create_client(GetParameters, f'{node_fqn}/get_parameters')
        try:
            assert cli.wait_for_service(timeout_sec=timeout), f'no parameter service on {node_fqn}'
            fut = cli.call_async(GetParameters.Request(names=list(names)))
            t_end = time.monotonic() + timeout
            while not fut.done() and time.monotonic() < t_end:
                time.sleep(0.05)
            assert fut.done(), f'get_parameters on {node_fqn} timed out'
            return dict(
                zip(
                    names,
                    (rclpy.parameter.parameter_value_to_python(v) for v in fut.result().values),
                )
            )
        finally:
            self.node.destroy_client(cli)

    def close(self):
        self.ctx.try_shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()


def _launch_args_declared():
    spec = importlib.util.spec_from_file_location('pt_launch_args', LAUNCH_FILE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {a.name: a for a in mod.generate_launch_description().get_launch_arguments()}


# --------------------------------------------------------------- in-process launch (launch_pytest)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


LAUNCH_LOG = _Records()
EXITS = []  # (executable, return code) of every process the in-process launch ran
OUTPUT = []  # their stdout + stderr


@pytest.fixture(scope='module')
def listener():
    lst = Listener(['/tracked_poses', '/robot1/tracked_poses'])
    yield lst
    lst.close()


@launch_pytest.fixture(scope='module')
def tracking_launch(walk_video, listener):
    logging.getLogger('pose_tracking.launch').addHandler(LAUNCH_LOG)
    return launch.LaunchDescription(
        [
            RegisterEventHandler(
                OnProcessExit(
                    on_exit=lambda ev, ctx: EXITS.append(
                        (os.path.basename(ev.cmd[0]), ev.returncode)
                    )
                )
            ),
            RegisterEventHandler(
                OnProcessIO(
                    on_stdout=lambda ev: OUTPUT.append(ev.text.decode(errors='replace')),
                    on_stderr=lambda ev: OUTPUT.append(ev.text.decode(errors='replace')),
                )
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                launch_arguments={
                    'video_file': str(walk_video),
                    'device': 'cpu',
                    'rviz': 'true',
                }.items(),
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.mark.launch(fixture=tracking_launch)
def test_launch_file_tracks_people_from_the_video(listener):
    """(a) video_source -> pose_tracker over DDS.

    TrackedPoseArray with people on /tracked_poses; the launch defaults reach the node
    (publish_debug_image false, autostart true; device:=cpu).
    """
    got = listener.wait_for_people('/tracked_poses')
    assert got, (
        f'no TrackedPoseArray with poses on /tracked_poses within {START_S} s:\n'
        + ''.join(OUTPUT)[-3000:]
    )
    assert all(len(p.keypoints) == 17 for p in got[0].poses)
    assert got[0].header.frame_id == 'camera'  # config/video_source.yaml
    params = listener.get_params('/pose_tracker', ['device', 'publish_debug_image', 'autostart'])
    assert params == {'device': 'cpu', 'publish_debug_image': False, 'autostart': True}


@pytest.mark.launch(fixture=tracking_launch)
def test_rviz_without_rviz2_warns_and_carries_on(listener):
    """(c) rviz:=true, rviz2 not installed.

    One warning that says how to install it; the rest runs.
    """
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix('rviz2')
        pytest.skip('rviz2 is installed here')
    except PackageNotFoundError:
        pass
    warnings = [r.getMessage() for r in LAUNCH_LOG.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'rviz2 is not installed' in warnings[0], warnings
    assert 'apt install ros-' in warnings[0] and 'poseflow.rviz' in warnings[0]
    assert not any(name == 'rviz2' for name, _ in EXITS)  # nothing was started for it
    n = len(listener.with_people('/tracked_poses'))
    assert listener.wait_for_people('/tracked_poses') and n > 0
    t_end = time.monotonic() + 10
    while len(listener.with_people('/tracked_poses')) <= n and time.monotonic() < t_end:
        time.sleep(0.1)
    assert len(listener.with_people('/tracked_poses')) > n, 'the tracker stopped publishing'


@pytest.mark.launch(fixture=tracking_launch, shutdown=True)
def test_in_process_launch_shuts_down_cleanly():
    """After launch_pytest shut the launch down (SIGINT to each process).

    Both nodes exited with 0.
    """
    assert sorted(EXITS) == [('pose_tracker', 0), ('video_source', 0)], ''.join(OUTPUT)[-3000:]
    text = ''.join(OUTPUT)
    assert 'Traceback' not in text and 'terminate called' not in text, text[-3000:]


# ---------------------------------------------------------------- `ros2 launch` as a subprocess


def _ros2(*args, **kw):
    if not ROS2.exists():
        pytest.skip(f'{ROS2} not installed (make setup installs the ros2 CLI)')
    return subprocess.run([str(ROS2), *args], capture_output=True, text=True, timeout=60, **kw)


def _show_args(text):
    """{name: description} from `ros2 launch ... --show-args`."""
    lines, out = text.splitlines(), {}
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("'") and s.endswith("':"):
            desc = lines[i + 1].strip() if i + 1 < len(lines) else ''
            out[s[1:-2]] = '' if desc.startswith('(default') else desc
    return out


def test_show_args_lists_every_argument_by_path_and_by_package_name():
    """(d) --show-args lists every declared argument with a description (by file and package)."""
    declared = _launch_args_declared()
    assert set(declared) == ARGS
    for args in ([str(LAUNCH_FILE)], ['poseflow_ros', 'pose_tracking.launch.py']):
        r = _ros2('launch', *args, '--show-args')
        assert r.returncode == 0, r.stdout + r.stderr
        shown = _show_args(r.stdout)
        assert set(shown) == ARGS, r.stdout
        assert all(shown.values()), r.stdout  # each has a description
    assert (
        "(default: 'false')" in r.stdout.split("'publish_debug_image':")[1].split("'autostart'")[0]
    )


# `ros2 launch` as in a terminal, where Ctrl-C finds SIGINT at its default: also when this test
# runs with SIGINT ignored (pytest started in the background by a non-interactive shell), which
# ros2 launch would inherit and keep (it then ignores the SIGINT below).
_SIGINT_DEFAULT_THEN_EXEC = (
    'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); '
    'os.execv(sys.argv[1], sys.argv[1:])'
)


@pytest.fixture(scope='module')
def ns_launch(walk_video, listener, tmp_path_factory):
    """Start `ros2 launch poseflow_ros pose_tracking.launch.py ... namespace:=robot1`.

    In its own session, with a params file whose `pose_tracker:` section sets marker_lifetime (must
    apply under the namespace).
    """
    if not ROS2.exists():
        pytest.skip(f'{ROS2} not installed (make setup installs the ros2 CLI)')
    params = yaml.safe_load((ROOT / 'config' / 'pose_tracking.yaml').read_text())
    params['pose_tracker']['ros__parameters']['marker_lifetime'] = 0.75
    pfile = tmp_path_factory.mktemp('launch') / 'params.yaml'
    pfile.write_text(yaml.safe_dump(params))
    proc = subprocess.Popen(
        [
            sys.executable,
            '-c',
            _SIGINT_DEFAULT_THEN_EXEC,
            str(ROS2),
            'launch',
            'poseflow_ros',
            'pose_tracking.launch.py',
            f'video_file:={walk_video}',
            'device:=cpu',
            'namespace:=robot1',
            f'params_file:={pfile}',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    out = []
    reader = threading.Thread(
        target=lambda: out.extend(iter(proc.stdout.readline, '')), daemon=True
    )
    reader.start()
    proc.out = out
    proc.reader = reader
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever is left of that session
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_namespace_puts_the_nodes_and_topics_under_it(ns_launch, listener):
    """(b) namespace:=robot1: output on /robot1/tracked_poses from /robot1/pose_tracker.

    The params file's pose_tracker: section applies to the namespaced node.
    """
    got = listener.wait_for_people('/robot1/tracked_poses', proc=ns_launch)
    assert got, (
        f'nothing on /robot1/tracked_poses within {START_S} s:\n' + ''.join(ns_launch.out)[-3000:]
    )
    pubs = listener.node.get_publishers_info_by_topic('/robot1/tracked_poses')
    assert {(p.node_namespace, p.node_name) for p in pubs} == {('/robot1', 'pose_tracker')}
    assert listener.get_params('/robot1/pose_tracker', ['marker_lifetime']) == {
        'marker_lifetime': 0.75
    }
    # the image topic is namespaced too (the poses above came from it; video_source may have
    # finished the 25 s video by now on a slow machine, so the subscriber side is checked)
    subs = listener.node.get_subscriptions_info_by_topic('/robot1/camera/image_raw')
    assert ('/robot1', 'pose_tracker') in {(p.node_namespace, p.node_name) for p in subs}, (
        'image not in robot1'
    )


def test_sigint_to_ros2_launch_exits_0_and_leaves_no_process(ns_launch, listener):
    """(e) Ctrl-C (SIGINT to `ros2 launch`) once poses flow.

    Exit code 0, no video_source/pose_tracker left over, no Traceback / 'terminate called' in the
    output.
    """
    assert listener.wait_for_people('/robot1/tracked_poses', proc=ns_launch), ''.join(
        ns_launch.out
    )[-3000:]
    children = psutil.Process(ns_launch.pid).children(recursive=True)
    names = {os.path.basename(c.cmdline()[1]) for c in children if len(c.cmdline()) > 1}
    assert {'video_source', 'pose_tracker'} <= names, names
    ns_launch.send_signal(signal.SIGINT)
    try:
        rc = ns_launch.wait(timeout=40)
    except subprocess.TimeoutExpired:
        rc = None
    ns_launch.reader.join(timeout=5)
    text = ''.join(ns_launch.out)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert rc == 0, f'ros2 launch exit code {rc}:\n{text[-3000:]}'
    assert not alive, f'left running: {[c.cmdline() for c in alive]}'
    session = [p for p in psutil.process_iter(['pid']) if _sid(p.pid) == ns_launch.pid]
    assert not session, f'left in the launch session: {[p.cmdline() for p in session]}'
    assert 'Traceback' not in text and 'terminate called' not in text, text[-3000:]


def _sid(pid):
    try:
        return os.getsid(pid)
    except OSError:
        return None
