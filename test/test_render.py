"""Drawing (poseflow_ros.render): per-track colours and the skeleton overlay of the debug image."""

import numpy as np

from poseflow_ros.render import _bgr255, draw_tracks, track_color
from poseflow_ros.types import TrackOutput, TrackState


def track(tid, box, state=TrackState.CONFIRMED, kp=None, sc=None):
    return TrackOutput(tid, state, 5, 5, 0, np.asarray(box, np.float32), 0.9, kp, sc)


def pose(score=1.0):
    """Return a COCO-17 pose in the box (100, 100)-(200, 300), each keypoint on its own spot."""
    kp = np.stack([np.full(17, 150.0), np.linspace(120, 280, 17)], 1).astype(np.float32)
    kp[1::2, 0] = 130.0  # zigzag so that skeleton lines are not all on one column
    return kp, np.full(17, score, np.float32)


def test_track_color_is_stable_and_spread():
    cols = [track_color(i) for i in range(1, 11)]
    assert track_color(3) == cols[2]  # the same id always gets the same colour
    assert all(0.0 <= c <= 1.0 for col in cols for c in col)
    assert len({tuple(np.round(c, 3)) for c in cols}) == 10
    r, g, b = track_color(7)
    assert _bgr255(7) == (int(b * 255), int(g * 255), int(r * 255))  # OpenCV order


def test_draw_tracks_box_label_and_skeleton_in_the_track_colour():
    img = np.zeros((400, 400, 3), np.uint8)
    kp, sc = pose()
    out = draw_tracks(img, [track(4, (100, 100, 200, 300), kp=kp, sc=sc)])
    assert not img.any()  # copy=True leaves the input alone
    col = np.array(_bgr255(4), np.uint8)
    assert (out[200, 100] == col).all() and (out[100, 150] == col).all()  # box edges
    for x, y in np.round(kp).astype(int):
        assert (out[y, x] == col).all()  # joints
    assert out[60:100, 100:200].any()  # the '#4' label above the box
    assert not out[350:, :].any() and not out[:, 250:].any()  # nothing else


def test_draw_tracks_skips_faint_keypoints_and_the_skeleton_of_lost_tracks():
    img = np.zeros((400, 400, 3), np.uint8)
    kp, sc = pose(0.2)  # below the default threshold 0.3
    out = draw_tracks(img, [track(4, (100, 100, 200, 300), kp=kp, sc=sc)])
    inner = out[105:296, 105:196]
    assert not inner.any()  # box only: no joint, no line inside
    assert draw_tracks(img, [track(4, (100, 100, 200, 300), kp=kp, sc=sc)], 0.1)[
        105:296, 105:196
    ].any()  # a lower threshold draws them
    kp, sc = pose(1.0)
    lost = draw_tracks(img, [track(4, (100, 100, 200, 300), TrackState.LOST, kp, sc)])
    assert (lost[200, 100] == 160).all()  # grey box
    assert not lost[105:296, 105:196].any()  # no skeleton for a predicted pose


def test_draw_tracks_in_place():
    img = np.zeros((100, 100, 3), np.uint8)
    out = draw_tracks(img, [track(1, (10, 20, 50, 80))], copy=False)
    assert out is img and img[50, 10].any()
    assert draw_tracks(img, []) is not img
