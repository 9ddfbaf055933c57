"""What the node tests share: the real pipeline (CPU), frames of the walking video, and a harness that runs
the node under test with a test node that publishes images and records every output over DDS."""

import subprocess
import sys
import threading
import time

import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from poseflow_ros.msg import TrackedPoseArray
from poseflow_ros.pipeline import PipelineConfig, PosePipeline
from poseflow_ros.ros.params import make_qos
from poseflow_ros.ros.pose_tracker_node import PoseTrackerNode
from poseflow_ros.video import VideoReader


@pytest.fixture(scope='module')
def frames(walk_video):
    r = VideoReader(walk_video)
    out = [f for i, f in enumerate(r) if i % 3 == 0][:40]
    r.close()
    return out


@pytest.fixture(scope='module')
def pipeline():
    from poseflow_ros import models

    for n in ('rtmdet_nano_person', 'blazepose_full'):
        models.fetch(n)
    p = PosePipeline.from_config(PipelineConfig(device='cpu'))
    p.warmup((360, 640))
    return p


@pytest.fixture(scope='module')
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


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
    """``python -m poseflow_ros.ros.<module> --ros-args [--params-file F] -p P ...`` as a subprocess (stdout
    and stderr together, text)."""
    cmd = [sys.executable, '-m', f'poseflow_ros.ros.{module}', '--ros-args']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    for p in params:
        cmd += ['-p', p]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
