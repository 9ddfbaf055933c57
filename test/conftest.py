"""Shared fixtures.

DDS is kept on localhost with a per-run domain id so parallel runs don't mix.
"""

import os
import random
import sys
from pathlib import Path

import pytest

# ros2 launch / launch_ros / ament_index find packages through AMENT_PREFIX_PATH, which the PyPI
# ROS wheels do not set (their ament index is in the venv prefix). The Makefile exports it; this
# covers a plain `.venv/bin/python -m pytest test`.
if not os.environ.get('AMENT_PREFIX_PATH'):
    os.environ['AMENT_PREFIX_PATH'] = sys.prefix

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ['ROS_DOMAIN_ID'] = str(
    random.Random(os.getpid() ^ int.from_bytes(os.urandom(2), 'little')).randint(1, 101)
)

from poseflow_ros.paths import shared_dir  # noqa: E402

SHARED = shared_dir()
# the arguments launch/pose_tracking.launch.py declares (test_launch and
# test_video_source_and_launch check the file against it)
LAUNCH_ARGS = frozenset(
    {
        'namespace',
        'image_topic',
        'camera_info_topic',
        'use_depth',
        'depth_topic',
        'params_file',
        'device',
        'video_file',
        'publish_debug_image',
        'autostart',
        'rviz',
    }
)


def need_shared(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f'shared data missing: {p} (set POSEFLOW_SHARED)')
    return p


def mot17_frame(seq: str = 'MOT17-04-FRCNN'):
    """Frame 1 of a shared MOT17 sequence (BGR), its pedestrians with visibility >= 0.5 (xyxy)."""
    import cv2
    import numpy as np

    d = need_shared(f'data/mot17-mini/{seq}')
    img = cv2.imread(str(d / 'img1' / '000001.jpg'))
    gt = np.loadtxt(d / 'gt' / 'gt.txt', delimiter=',', ndmin=2)
    gt = gt[(gt[:, 0] == 1) & (gt[:, 6] == 1) & (gt[:, 7] == 1) & (gt[:, 8] >= 0.5)]
    return img, np.concatenate([gt[:, 2:4] - 1, gt[:, 2:4] - 1 + gt[:, 4:6]], 1)


@pytest.fixture(scope='session')
def images_dir() -> Path:
    return need_shared('data/images')


@pytest.fixture(scope='session')
def walk_video() -> Path:
    return need_shared('data/videos/walk.small.mp4')


@pytest.fixture(scope='session')
def detector():
    from poseflow_ros import models
    from poseflow_ros.detect import make_detector

    models.fetch('rtmdet_nano_person')
    return make_detector('onnxruntime', score_threshold=0.3)


@pytest.fixture(scope='module')
def model_file():
    """Return the BlazePose-full weights; skip the module where they cannot be fetched."""
    from poseflow_ros import models

    try:
        return models.fetch('blazepose_full')
    except Exception as e:  # noqa: BLE001 -- no wheel reachable: cannot test the port
        pytest.skip(f'BlazePose weights unavailable: {e}')


# The node tests' fixtures (test/ros_harness.py holds the harness itself). Module scope: each test
# module gets its own pipeline and its own rclpy context; imports happen only when a test asks.
@pytest.fixture(scope='module')
def frames(walk_video):
    """Every third frame of the walking video, the first 40 (BGR)."""
    from poseflow_ros.video import VideoReader

    r = VideoReader(walk_video)
    out = [f for i, f in enumerate(r) if i % 3 == 0][:40]
    r.close()
    return out


@pytest.fixture(scope='module')
def pipeline():
    """Build the real pipeline on the CPU with the default settings, warmed up for 640x360."""
    from poseflow_ros import models
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline

    for n in ('rtmdet_nano_person', 'blazepose_full'):
        models.fetch(n)
    p = PosePipeline.from_config(PipelineConfig(device='cpu'))
    p.warmup((360, 640))
    return p


@pytest.fixture(scope='module')
def ros():
    """Hold an rclpy context for the test module (init before its first test, shutdown after)."""
    import rclpy

    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture
def no_tf32():
    """Run FP32 convolutions and matmuls in full FP32 on CUDA for exact comparisons.

    PyTorch lets cuDNN use TF32 by default, which moves BlazePose landmarks by ~0.3 px; the
    settings are restored afterwards.
    """
    import torch

    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
