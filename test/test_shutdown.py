"""Start/stop cycles with frames in flight.

pose_tracker and video_source end with exit code 0 on SIGINT, SIGTERM and a double Ctrl-C, with no
traceback, no C++ abort and no publish on an invalid context, and the tracker deletes its markers
on the way out.
"""

import signal
import time

import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.node import Node  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from poseflow_ros.msg import TrackedPoseArray  # noqa: E402
from ros_harness import node_process  # noqa: E402

CYCLES = 20
BAD = (
    'Traceback',
    'terminate called',
    'RCLError',
    'context is invalid',
    'Failed to publish',
    'Segmentation',
)


def _stop(proc, how):
    if how == 'double_sigint':
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT if how == 'sigint' else signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def test_start_stop_cycles_with_frames_in_flight(walk_video):
    rclpy.init()
    rec = Node('test_shutdown_recorder')
    poses, markers = [], []
    rec.create_subscription(TrackedPoseArray, 'tracked_poses', poses.append, 50)
    rec.create_subscription(MarkerArray, 'markers', markers.append, 50)
    src = node_process('video_source_node', f'video_path:={walk_video}', 'loop:=true')
    ways = ('sigint', 'sigterm', 'double_sigint')
    results = []
    try:
        for i in range(CYCLES):
            how = ways[i % 3]
            n0, m0 = len(poses), len(markers)
            pt = node_process('pose_tracker_node', 'device:=cpu')
            t_end = time.monotonic() + 60
            while len(poses) < n0 + 3 and time.monotonic() < t_end and pt.poll() is None:
                rclpy.spin_once(rec, timeout_sec=0.05)
            assert len(poses) >= n0 + 3, f'cycle {i}: no output\n' + (
                pt.stdout.read() if pt.poll() is not None else ''
            )
            # a frame is in flight: the camera publishes at 25 Hz throughout
            rc, out = _stop(pt, how)
            t_end = time.monotonic() + 2
            while time.monotonic() < t_end:
                rclpy.spin_once(rec, timeout_sec=0.05)
            cleared = any(
                mk.action == Marker.DELETEALL for ma in markers[m0:] for mk in ma.markers
            )
            results.append((i, how, rc, [b for b in BAD if b in out], cleared))
            assert rc == 0 and not results[-1][3], f'cycle {i} ({how}): rc {rc}\n{out}'
            assert cleared, f'cycle {i} ({how}): no DELETEALL markers on shutdown'
        # the camera: stopped the same ways, also mid-stream
        for how in ways:
            rc, out = _stop(src, how)
            assert rc == 0 and not [b for b in BAD if b in out], (
                f'video_source ({how}): rc {rc}\n{out}'
            )
            src = node_process('video_source_node', f'video_path:={walk_video}', 'loop:=true')
            time.sleep(1.5)
    finally:
        src.kill()
        rec.destroy_node()
        rclpy.shutdown()
    print(f'{len(results)} pose_tracker start/stop cycles clean: {results}')
