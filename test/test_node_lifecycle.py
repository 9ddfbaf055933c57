"""pose_tracker as a robot runs it.

Default QoS against cameras in another process, lifecycle transitions over the lifecycle services
(and the ros2 CLI), live parameters (validated, applied, refused with the reason), marker lifetimes
and clean-up.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.parameter_client import AsyncParameterClient  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from poseflow_ros.ros.conversions import bgr_to_image  # noqa: E402
from poseflow_ros.stats import LossMonitor  # noqa: E402
from ros_harness import Harness, header  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _wait_future(fut, timeout=10.0):
    t_end = time.monotonic() + timeout
    while not fut.done():
        assert time.monotonic() < t_end, 'service call timed out'
        time.sleep(0.01)
    return fut.result()


@pytest.mark.parametrize('size', [(640, 480), (1280, 720)])
def test_default_qos_gets_every_frame_of_a_reliable_camera_in_another_process(
    ros, pipeline, walk_video, size
):
    """The user's case.

    A camera driver process publishing RELIABLE (the ROS default) at 25 Hz, the node with its
    default parameters. Before qos_reliability: auto, 29 of 250 640x480 frames arrived.
    """
    n = 50
    h = Harness(pipeline, reliability=None)
    cam = subprocess.Popen(
        [
            sys.executable,
            str(HERE / 'ros_image_publisher_proc.py'),
            str(size[0]),
            str(size[1]),
            str(n),
            '25',
            'reliable',
            str(walk_video),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = cam.communicate(timeout=60)
        assert f'PUBLISHED {n}' in out, err
        h.wait(
            lambda: h.node.stats.counters['received'] >= n,
            5.0,
            f'{n} frames received, got {h.node.stats.counters["received"]}; '
            f'{h.node.losses.summary_text()}',
        )
        c = h.node.stats.counters
        assert h.node._sub_reliability == 'reliable'
        assert c['received'] == n
        assert c['processed'] + c['dropped'] == n and c['processed'] > 0
        assert h.node.losses.lost == 0
        assert len(h.poses) == c['processed']
    finally:
        cam.kill()
        h.close()


def test_auto_qos_follows_a_best_effort_publisher(ros, pipeline, frames):
    h = Harness(pipeline, reliability='best_effort')
    try:
        out = h.send(bgr_to_image(frames[2], header(2)))
        assert out.header.stamp.sec == 1002 and h.node._sub_reliability == 'best_effort'
    finally:
        h.close()


def test_loss_monitor_counts_stamp_gaps_and_middleware_losses():
    m = LossMonitor()
    t = 100.0
    for i in range(60):
        t += 0.04 * (3 if i in (20, 40) else 1)  # two gaps of 2 missing frames each
        m.received(t)
    assert m.gap_missing == 4 and m.n_received == 60
    assert not m.significant()  # 4 of 64 is > 1 %, but fewer than 5 frames
    t += 0.04 * 2
    m.received(t)
    assert m.gap_missing == 5 and m.significant()
    m.lost_by_transport(7)
    t += 0.04
    m.received(t)
    assert m.transport_lost == 7 and m.lost == 7 and m.significant()
    for _ in range(300):  # losses stop: after the recent window, not significant
        t += 0.04
        m.received(t)
    assert m.lost == 7 and not m.significant()
    quiet = LossMonitor()
    for i in range(200):
        quiet.received(100.0 + 0.04 * i)
    assert quiet.lost == 0 and not quiet.significant()


def test_loss_monitor_ignores_bursts_pauses_and_clock_jumps():
    """A burst, a pause of seconds (camera restart) and a stamp jump are not lost frames.

    A burst (0.5 ms apart) must not become the 'frame period' (it turned every later frame into ~80
    missing ones in a soak).
    """
    m = LossMonitor()
    t = 100.0
    for _ in range(50):
        t += 0.04
        m.received(t)
    for _ in range(200):
        t += 0.0005
        m.received(t)
    for _ in range(100):
        t += 0.04
        m.received(t)
    t += 3.0  # camera restart
    m.received(t)
    m.received(t + 3600.0)  # clock jump
    for k in range(1, 50):
        m.received(t + 3600.0 + 0.04 * k)
    assert m.gap_missing == 0 and not m.significant()
    m.restart()
    assert not m.significant()


def test_lifecycle_transitions_over_dds(ros, pipeline, frames):
    h = Harness(pipeline, autostart=False)
    node, io = h.node, h.io
    get = io.create_client(GetState, '/pose_tracker/get_state')
    change = io.create_client(ChangeState, '/pose_tracker/change_state')
    assert get.wait_for_service(timeout_sec=10.0) and change.wait_for_service(timeout_sec=10.0)

    def state():
        return _wait_future(get.call_async(GetState.Request())).current_state.label

    def go(tid):
        return _wait_future(
            change.call_async(ChangeState.Request(transition=Transition(id=tid)))
        ).success

    try:
        assert state() == 'unconfigured' and node.sub is None and node.pub_poses is None
        assert go(Transition.TRANSITION_CONFIGURE) and state() == 'inactive'
        assert node.sub is None  # configured, not yet listening
        assert go(Transition.TRANSITION_ACTIVATE) and state() == 'active'
        h.wait(
            lambda: h.pub.get_subscription_count() > 0 and node._sub_reliability == 'reliable',
            5.0,
            'subscribed after activate',
        )
        h.wait(lambda: node.pub_poses.get_subscription_count() > 0, 5.0, 'outputs matched')
        for i in range(4):
            h.send(bgr_to_image(frames[i], header(i)))
        first_ids = {p.track_id for m in h.poses for p in m.poses}
        assert first_ids
        n_markers = len(h.markers)
        assert go(Transition.TRANSITION_DEACTIVATE) and state() == 'inactive'
        h.wait(lambda: len(h.markers) > n_markers, 5.0, 'markers cleared on deactivate')
        assert {mk.action for mk in h.markers[-1].markers} == {Marker.DELETEALL}
        n = len(h.poses)
        h.pub.publish(bgr_to_image(frames[5], header(5)))
        time.sleep(0.5)
        assert len(h.poses) == n and node.sub is None  # inactive: no subscription, no output
        assert go(Transition.TRANSITION_ACTIVATE) and state() == 'active'
        h.wait(
            lambda: h.pub.get_subscription_count() > 0 and node._sub_reliability == 'reliable',
            5.0,
            'subscribed again',
        )
        h.wait(lambda: node.pub_poses.get_subscription_count() > 0, 5.0, 'outputs matched')
        for i in range(6, 10):
            h.send(bgr_to_image(frames[i], header(i)))
        new_ids = {p.track_id for m in h.poses[n:] for p in m.poses}
        # tracker reset on activate; ids never reused
        assert new_ids and min(new_ids) > max(first_ids)
        assert go(Transition.TRANSITION_DEACTIVATE) and go(Transition.TRANSITION_CLEANUP)
        assert state() == 'unconfigured' and node.pipeline is None and node.pub_poses is None
        assert go(Transition.TRANSITION_CONFIGURE) and state() == 'inactive'
        assert not go(Transition.TRANSITION_CONFIGURE)  # not a transition from inactive
        assert go(Transition.TRANSITION_INACTIVE_SHUTDOWN) and state() == 'finalized'
    finally:
        h.close()


def _set(client, **values):
    params = [Parameter(k.replace('__', '.'), value=v) for k, v in values.items()]
    return _wait_future(client.set_parameters(params)).results


def test_live_parameters_are_validated_and_applied(ros, pipeline, frames):
    h = Harness(pipeline)
    client = AsyncParameterClient(h.io, 'pose_tracker')
    assert client.wait_for_services(timeout_sec=10.0)
    node = h.node
    try:
        for name, value, check in [
            ('keypoint_score_threshold', 0.5, lambda: node.markers.kp_threshold == 0.5),
            ('marker_lifetime', 0.2, lambda: node.markers.lifetime == 0.2),
            ('tracker.max_age', 5, lambda: node.pipeline.tracker.config.max_age == 5),
            ('tracker.iou_weight', 2.0, lambda: node.pipeline.tracker.config.iou_weight == 2.0),
            (
                'tracker.std_weight_measurement',
                0.1,
                lambda: node.pipeline.tracker.kf.std_weight_measurement == 0.1,
            ),
            (
                'posture.keypoint_threshold',
                0.6,
                lambda: node.pipeline.posture.keypoint_threshold == 0.6,
            ),
            ('publish_debug_image', True, lambda: node.settings.publish_debug_image),
            ('expected_width', 640, lambda: node.settings.expected_width == 640),
        ]:
            (r,) = _set(client, **{name.replace('.', '__'): value})
            assert r.successful, (name, r.reason)
            assert check(), name
        # a live change takes effect on the next frames: people tracked, then none once no box can
        # score above 1.0
        for i in range(3):
            out = h.send(bgr_to_image(frames[i], header(i)))
        assert out.poses, 'people tracked with the default detector threshold'
        (r,) = _set(client, detector_score_threshold=1.0)
        assert r.successful and node.pipeline.detector.score_threshold == 1.0
        for i in range(3, 6):
            out = h.send(bgr_to_image(frames[i], header(i)))
        assert out.poses == []
        (r,) = _set(client, detector_score_threshold=0.25)
        assert r.successful
        # refused, with the reason; the value stays
        for name, value, why in [
            ('keypoint_score_threshold', 1.5, 'range'),
            ('keypoint_score_threshold', 'high', 'type'),
            ('tracker.max_age', -1, 'range'),
            ('tracker.low_score_threshold', 0.9, 'low_score_threshold <= high_score'),
            ('device', 'cpu', 'lifecycle set /pose_tracker cleanup'),
            ('pose_backend', 'mmpose', 'read at configure'),
            ('tracker.feature_ema', 0.0, 'read at configure'),
            ('qos_reliability', 'reliable', 'read at configure'),
        ]:
            before = node.get_parameter(name).value
            (r,) = _set(client, **{name.replace('.', '__'): value})
            assert not r.successful, name
            if why not in ('range', 'type'):
                assert why in r.reason, (name, r.reason)
            else:
                assert r.reason, name
            assert node.get_parameter(name).value == before, name
        # unconfigured: every setting may change (applies at the next configure)
        node.trigger_deactivate()
        node.trigger_cleanup()
        (r,) = _set(client, device='cpu')
        assert r.successful, r.reason
        (r,) = _set(client, pose_backend='openpose')
        assert not r.successful and 'blazepose' in r.reason
    finally:
        h.close()


def test_markers_have_lifetimes_and_no_empty_skeletons(ros, pipeline, frames):
    h = Harness(pipeline)
    try:
        for i, f in enumerate(frames[:10]):
            h.send(bgr_to_image(f, header(i)))
        h.wait(lambda: len(h.markers) >= 10, 5.0, 'markers')
        adds = [mk for ma in h.markers for mk in ma.markers if mk.action == Marker.ADD]
        assert adds
        for mk in adds:
            assert (mk.lifetime.sec, mk.lifetime.nanosec) == (0, 500_000_000), mk.ns
            if mk.ns in ('skeleton', 'joints'):
                assert len(mk.points) > 0
        n = len(h.markers)
        h.node.trigger_deactivate()
        h.wait(lambda: len(h.markers) > n, 5.0, 'DELETEALL on deactivate')
        assert all(mk.action == Marker.DELETEALL for mk in h.markers[-1].markers)
    finally:
        h.close()


def _ros2(*args, timeout=60, ok=None):
    """Run the ros2 CLI; retry while the node is not discovered yet."""
    env = {**os.environ, 'AMENT_PREFIX_PATH': os.environ.get('AMENT_PREFIX_PATH') or sys.prefix}
    cli = str(Path(sys.executable).with_name('ros2'))
    t_end = time.monotonic() + timeout
    while True:
        r = subprocess.run([cli, *args], capture_output=True, text=True, env=env, timeout=timeout)
        text = r.stdout + r.stderr
        if (
            'not found' not in text.lower() and 'unknown node' not in text.lower()
        ) or time.monotonic() > t_end:
            return r.returncode, text
        time.sleep(0.5)


def test_ros2_lifecycle_and_param_cli(tmp_path):
    """The ros2 CLI against a real pose_tracker process started with autostart:=false.

    A configure that fails (no models) leaves it unconfigured with the reason; fixed parameters,
    then configure/activate work.
    """
    if not Path(sys.executable).with_name('ros2').exists():
        pytest.skip('ros2 CLI not installed (make setup installs it)')
    name = f'pt_cli_{os.getpid()}'
    cmd = [
        sys.executable,
        '-m',
        'poseflow_ros.ros.pose_tracker_node',
        '--ros-args',
        '-r',
        f'__node:={name}',
        '-p',
        'autostart:=false',
        '-p',
        'device:=cpu',
        '-p',
        f'models_dir:={tmp_path}',
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    fqn = f'/{name}'
    try:
        rc, out = _ros2('lifecycle', 'get', fqn, '--no-daemon')
        assert 'unconfigured' in out, out
        rc, out = _ros2('lifecycle', 'set', fqn, 'configure', '--no-daemon')
        assert 'Transitioning failed' in out or rc != 0, out
        rc, out = _ros2('lifecycle', 'get', fqn, '--no-daemon')
        assert 'unconfigured' in out, out
        rc, out = _ros2('param', 'set', fqn, 'models_dir', '', '--no-daemon')
        assert 'Set parameter successful' in out, out
        rc, out = _ros2('lifecycle', 'set', fqn, 'configure', '--no-daemon')
        assert 'Transitioning successful' in out, out
        rc, out = _ros2('lifecycle', 'set', fqn, 'activate', '--no-daemon')
        assert 'Transitioning successful' in out, out
        rc, out = _ros2('lifecycle', 'get', fqn, '--no-daemon')
        assert out.startswith('active'), out
        rc, out = _ros2('param', 'set', fqn, 'tracker.max_age', '12', '--no-daemon')
        assert 'Set parameter successful' in out, out
        rc, out = _ros2('param', 'set', fqn, 'models_dir', '/tmp', '--no-daemon')
        assert 'read at configure' in out, out
    finally:
        proc.send_signal(2)
        log, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, log
    assert 'python -m poseflow_ros.models fetch' in log  # the failed configure named the fix
    assert 'Traceback' not in log
