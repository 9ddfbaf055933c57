"""Shared fixtures. DDS is kept on localhost with a per-run domain id so parallel runs don't mix."""

import os
import random
import sys
from pathlib import Path

import pytest

# ros2 launch / launch_ros / ament_index find packages through AMENT_PREFIX_PATH, which the PyPI ROS
# wheels do not set (their ament index is in the venv prefix). The Makefile exports it; this covers a
# plain `.venv/bin/python -m pytest test`.
if not os.environ.get('AMENT_PREFIX_PATH'):
    os.environ['AMENT_PREFIX_PATH'] = sys.prefix

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ['ROS_DOMAIN_ID'] = str(
    random.Random(os.getpid() ^ int.from_bytes(os.urandom(2), 'little')).randint(1, 101)
)

from poseflow_ros.paths import shared_dir  # noqa: E402

SHARED = shared_dir()


def need_shared(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f'shared data missing: {p} (set POSEFLOW_SHARED)')
    return p


def mot17_frame(seq: str = 'MOT17-04-FRCNN'):
    """Frame 1 of a shared MOT17 sequence (BGR) and its pedestrians with visibility >= 0.5 as xyxy boxes."""
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
    return make_detector('rtmdet_onnx', score_threshold=0.3)


@pytest.fixture
def no_tf32():
    """FP32 convolutions and matmuls in full FP32 on CUDA for exact comparisons (PyTorch lets cuDNN use
    TF32 by default, which moves BlazePose landmarks by ~0.3 px); restored afterwards."""
    import torch

    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
