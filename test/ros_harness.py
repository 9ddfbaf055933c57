"""What the node tests share: a harness that runs the node under test with a test node.

The test node publishes images and records every output over DDS; :func:`node_process` starts a
node executable as a subprocess. The fixtures (the real CPU pipeline, frames of the walking video,
the rclpy context) are in conftest.py.
"""

import subprocess
import sys
import threading
import time

from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from poseflow_ros.msg import TrackedPoseArray
from poseflow_ros.ros.params import make_qos
from poseflow_ros.ros.pose_tracker_node import PoseTrackerNode


class Harness:
    """The node under test + a test node that publishes images and records every output."""

    def __init__(self, pipeline, overrides=(), reliability='reliable', autostart=True):
        # the node runs with its default QoS (qos_reliability: auto); the test publisher offers
        # `reliability`, as a camera driver would
        pipeline.tracker.reset()
        self.node = PoseTrackerNode(pipeline=pipeline, parameter_overrides=list(overrides))
        if autostart:
            assert self.node.autostart(), self.node.configure_error
        self.io = Node('test_io')
        if reliability is not None:  # else the images come from another process
            qos = make_qos(reliability, 10)
            self.pub = self.io.create_publisher(Image, 'image', qos)
            self.pub_c = self.io.create_publisher(CompressedImage, 'image/compressed', qos)
        self.poses, self.markers, self.debug = [], [], []
        self.io.create_subscription(TrackedPoseArray, 'tracked_poses', self.poses.append, 100)
        self.io.create_subscription(MarkerArray, 'markers', self.markers.append, 100)
        self.io.create_subscription(Image, 'debug_image', self.debug.append, 100)
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.ex.add_node(self.io)
        self.thread = threading.Thread(target=self.ex.spin, daemon=True)
        self.thread.start()
        if not autostart:
            return
        self.wait(
            lambda: self.node.pub_poses.get_subscription_count() > 0, 5.0, 'output not matched'
        )
        if reliability is None:
            return
        self.wait(
            lambda: self.node._sub_reliability == reliability,
            5.0,
            f'auto QoS did not pick {reliability} (got {self.node._sub_reliability})',
        )
        self.wait(
            lambda: (
                self.pub.get_subscription_count() > 0 or self.pub_c.get_subscription_count() > 0
            ),
            5.0,
            'node subscription not matched',
        )

    @staticmethod
    def wait(cond, timeout, what):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if cond():
                return
            time.sleep(0.01)
        raise AssertionError(f'timeout: {what}')

    def wait_quiet(self, consumed, quiet_s=1.0, timeout=30.0):
        """Wait until no image has reached the node for ``quiet_s`` and ``consumed()`` holds.

        Returns whether that happened within ``timeout`` (frames still in transit from another
        process would otherwise arrive during the test's next step).
        """
        c = self.node.stats.counters
        seen, t_quiet = -1, time.monotonic()
        t_end = t_quiet + timeout
        while time.monotonic() < t_end:
            if c['received'] != seen:
                seen, t_quiet = c['received'], time.monotonic()
            if consumed() and time.monotonic() - t_quiet > quiet_s:
                return True
            time.sleep(0.05)
        return False

    def wait_for_stamp(self, stamp, timeout=30.0):
        """Wait until the latest TrackedPoseArray carries the header stamp ``(sec, nanosec)``."""
        self.wait(
            lambda: (
                self.poses
                and (self.poses[-1].header.stamp.sec, self.poses[-1].header.stamp.nanosec) == stamp
            ),
            timeout,
            'the newest frame was processed',
        )

    def send(self, img_msg, wait_result=True, timeout=20.0):
        n = len(self.poses)
        (self.pub_c if isinstance(img_msg, CompressedImage) else self.pub).publish(img_msg)
        if wait_result:
            self.wait(lambda: len(self.poses) > n, timeout, 'no TrackedPoseArray for a frame')
            return self.poses[-1]

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()


def header(i, frame_id='cam_optical'):
    return Header(stamp=Time(sec=1000 + i, nanosec=1234 * i), frame_id=frame_id)


def node_process(module, *params, params_file=None):
    """Start ``python -m poseflow_ros.ros.<module> --ros-args [--params-file F] -p P ...``.

    A subprocess with stdout and stderr together, as text.
    """
    cmd = [sys.executable, '-m', f'poseflow_ros.ros.{module}', '--ros-args']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    for p in params:
        cmd += ['-p', p]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
