"""Keypoint smoothing: the One Euro filter by hand, and in the tracker.

In the tracker: raw values kept, stamps, scale invariance, reset on invisible keypoints and after
long gaps, live on/off.
"""

import math

import numpy as np
import pytest

from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.track.smoothing import OneEuroFilter, one_euro_step, smoothing_alpha
from poseflow_ros.types import TrackerInput

RNG_TEMPLATE = np.random.default_rng(0).uniform(0.1, 0.9, (17, 2))


def pose_in(box):
    b = np.asarray(box, np.float64)
    return b[:2] + RNG_TEMPLATE * (b[2:] - b[:2])


def frame(boxes, poses, scores=None, stamp=None, **kw):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    poses = np.asarray(poses, np.float32).reshape(-1, 17, 2)
    if scores is None:
        scores = np.ones((len(boxes), 17), np.float32)
    return TrackerInput(
        boxes,
        np.full(len(boxes), 0.9, np.float32),
        poses,
        np.asarray(scores, np.float32),
        stamp=stamp,
        **kw,
    )


# ---------------------------------------------------------------- the filter
def test_alpha_and_one_step_by_hand():
    # alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi fc)
    assert smoothing_alpha(1.0, 0.04) == pytest.approx(1 / (1 + (1 / (2 * math.pi)) / 0.04))
    x_prev, x_hat, dx_hat = np.array([10.0]), np.array([9.0]), np.array([0.5])
    x, dt, scale = np.array([12.0]), 0.04, 100.0
    out, d = one_euro_step(
        x, x_prev, x_hat, dx_hat, dt, scale, min_cutoff=2.0, beta=3.0, d_cutoff=1.0
    )
    speed = (12 - 10) / dt / scale  # 0.5 sizes per second
    a_d = smoothing_alpha(1.0, dt)
    d_exp = 0.5 + a_d * (speed - 0.5)
    fc = 2.0 + 3.0 * abs(d_exp)
    assert d[0] == pytest.approx(d_exp)
    assert out[0] == pytest.approx(9.0 + smoothing_alpha(fc, dt) * (12 - 9.0))


def test_filter_steadies_noise_and_follows_motion():
    rng = np.random.default_rng(1)
    t = np.arange(200) / 25.0
    still = 100 + rng.normal(0, 2, 200)
    f = OneEuroFilter(min_cutoff=3.0, beta=2.0)
    out = np.array([f(v, ti, scale=100.0) for v, ti in zip(still, t)])
    assert np.std(np.diff(out[20:])) < 0.5 * np.std(np.diff(still[20:]))
    # a ramp at 2 sizes per second: in steady state the smoothed speed is exact, the cutoff is
    # min_cutoff + beta * 2 and a first-order low-pass lags a ramp by (1 - alpha) / alpha frames
    ramp = 100 + 200 * t
    lags = []
    for beta in (2.0, 0.0):
        f = OneEuroFilter(min_cutoff=3.0, beta=beta)
        out = np.array([f(v, ti, scale=100.0) for v, ti in zip(ramp, t)])
        lag = (ramp[100:] - out[100:]) / 8.0  # 8 px per frame
        a = smoothing_alpha(3.0 + beta * 2.0, 0.04)
        np.testing.assert_allclose(lag, (1 - a) / a, rtol=1e-6)
        lags.append(lag.mean())
    assert lags[0] < 0.6 < 1.3 < lags[1]  # the speed term halves the lag


def test_filter_resets_invalid_elements_and_rejects_time_going_back():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    f(np.array([0.0, 0.0]), 0.0)
    out = f(np.array([10.0, 10.0]), 0.04, valid=np.array([True, False]))
    assert 0 < out[0] < 10 and out[1] == 10.0  # invalid: raw value, filter restarts
    out = f(np.array([10.0, 20.0]), 0.08)
    assert out[1] == 20.0  # first valid sample after the gap: raw
    with pytest.raises(ValueError):
        f(np.array([1.0, 1.0]), 0.0)


# ---------------------------------------------------------------- in the tracker
def run_walk(cfg, scale=1.0, noise=1.5, n=30, stamps=None, seed=0):
    rng = np.random.default_rng(seed)
    tr = Tracker(cfg)
    outs_all, raw_all = [], []
    for k in range(n):
        box = np.array([100 + 4 * k, 100, 160 + 4 * k, 280]) * scale
        kp = pose_in(box) + rng.normal(0, noise, (17, 2)) * scale
        outs = tr.update(frame([box], [kp], stamp=None if stamps is None else stamps[k]))
        outs_all.append(outs)
        raw_all.append(kp)
    return outs_all, raw_all


def test_raw_keypoints_kept_and_smoothed_ones_steadier():
    outs, raw = run_walk(TrackerConfig(n_init=1))
    for o, r in zip(outs, raw):
        np.testing.assert_allclose(o[0].keypoints_raw, r, atol=1e-3)
        np.testing.assert_array_equal(o[0].keypoint_scores_raw, o[0].keypoint_scores)
    sm = np.stack([o[0].keypoints for o in outs])
    rw = np.stack(raw)
    acc = lambda a: np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=-1)[5:].mean()  # noqa: E731
    assert acc(sm) < 0.6 * acc(rw)
    off, _ = run_walk(TrackerConfig(n_init=1, smooth_keypoints=False))
    for o, r in zip(off, raw):
        np.testing.assert_allclose(o[0].keypoints, r, atol=1e-3)
        np.testing.assert_allclose(o[0].keypoints_raw, r, atol=1e-3)


def test_scale_invariance():
    """The same walk 3x larger (closer to the camera), noise included.

    The smoothed keypoints are exactly 3x larger, because the filter's speed is measured in person
    sizes.
    """
    a, _ = run_walk(TrackerConfig(n_init=1), scale=1.0)
    b, _ = run_walk(TrackerConfig(n_init=1), scale=3.0)
    for oa, ob in zip(a, b):
        np.testing.assert_allclose(ob[0].keypoints, 3 * oa[0].keypoints, rtol=1e-5, atol=1e-3)


def test_time_from_stamps_with_frame_rate_fallback():
    n = 30
    cfg = TrackerConfig(n_init=1, smoothing_rate=25.0)
    nominal, _ = run_walk(cfg, n=n)  # no stamps: 25 Hz assumed
    stamped, _ = run_walk(cfg, n=n, stamps=np.arange(n) / 25.0)
    zeros, _ = run_walk(cfg, n=n, stamps=np.zeros(n))  # stamps that never advance
    slow, _ = run_walk(cfg, n=n, stamps=np.arange(n) / 5.0)  # same frames, 5 Hz: less smoothing
    for a, b, c in zip(nominal, stamped, zeros):
        np.testing.assert_allclose(a[0].keypoints, b[0].keypoints, atol=1e-4)
        np.testing.assert_allclose(a[0].keypoints, c[0].keypoints, atol=1e-4)
    d_nom = np.mean([np.abs(o[0].keypoints - o[0].keypoints_raw).mean() for o in nominal[5:]])
    d_slow = np.mean([np.abs(o[0].keypoints - o[0].keypoints_raw).mean() for o in slow[5:]])
    assert d_slow < 0.7 * d_nom


def test_invisible_keypoint_restarts_and_long_gap_resets():
    cfg = TrackerConfig(n_init=1, max_age=30)
    tr = Tracker(cfg)
    for k in range(10):
        box = [100 + 4 * k, 100, 160 + 4 * k, 280]
        tr.update(frame([box], [pose_in(box)]))
    # wrist 9 invisible for one frame: reported raw then, and raw again at its first visible frame
    box = [140, 100, 200, 280]
    sc = np.ones((1, 17), np.float32)
    sc[0, 9] = 0.1
    o = tr.update(frame([box], [pose_in(box)], scores=sc))[0]
    np.testing.assert_allclose(o.keypoints[9], o.keypoints_raw[9])
    assert not np.allclose(o.keypoints[0], o.keypoints_raw[0])  # the others are still filtered
    box = [144, 100, 204, 280]
    o = tr.update(frame([box], [pose_in(box)]))[0]
    np.testing.assert_allclose(o.keypoints[9], o.keypoints_raw[9])
    assert not np.allclose(o.keypoints[0], o.keypoints_raw[0])
    # unseen for longer than coast_frames: the whole pose restarts at the raw values
    for _ in range(cfg.coast_frames + 2):
        tr.update(frame([], []))
    box = [170, 100, 230, 280]
    o = tr.update(frame([box], [pose_in(box)]))[0]
    assert o.track_id == 1 and o.time_since_update == 0
    np.testing.assert_allclose(o.keypoints, o.keypoints_raw)


def test_smoothing_can_be_switched_live():
    tr = Tracker(TrackerConfig(n_init=1))
    for k in range(8):
        box = [100 + 4 * k, 100, 160 + 4 * k, 280]
        o = tr.update(frame([box], [pose_in(box)]))[0]
    assert not np.allclose(o.keypoints, o.keypoints_raw)
    tr.set_config(TrackerConfig(n_init=1, smooth_keypoints=False))
    box = [132, 100, 192, 280]
    o = tr.update(frame([box], [pose_in(box)]))[0]
    np.testing.assert_allclose(o.keypoints, o.keypoints_raw)
    tr.set_config(TrackerConfig(n_init=1))
    box = [136, 100, 196, 280]
    o = tr.update(frame([box], [pose_in(box)]))[0]
    np.testing.assert_allclose(o.keypoints, o.keypoints_raw)  # restarts from the raw pose
    box = [140, 100, 200, 280]
    o = tr.update(frame([box], [pose_in(box)]))[0]
    assert not np.allclose(o.keypoints, o.keypoints_raw)


def test_smoothing_settings_validated():
    with pytest.raises(ValueError):
        TrackerConfig(smoothing_min_cutoff=0.0)
    with pytest.raises(ValueError):
        TrackerConfig(smoothing_beta=-1.0)
    with pytest.raises(ValueError):
        TrackerConfig.from_dict({'smoothing_rate': 'fast'})
