"""Association costs and assignment (poseflow_ros.track.matching).

Hungarian with a cost limit, the matching cascade, cue fusion, OKS, the appearance gallery
distance and moving a pose with its box (pose_shape_oks: test_border_tracking.py, with its poses).
"""

import numpy as np
import pytest

from poseflow_ros.geometry import iou_matrix, xyxy_to_xyah
from poseflow_ros.track.matching import (
    cosine_gallery_distance,
    fuse_costs,
    linear_assignment,
    matching_cascade,
    move_keypoints,
    oks_pairs,
)


def test_linear_assignment_and_cascade():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 110, 110]], float)
    iou = iou_matrix(a, b)  # [[1/3, 1, 0], [0, 0, 0]]
    r, c = linear_assignment(1 - iou, 0.7)
    assert r.tolist() == [0] and c.tolist() == [1]  # row 1 has nothing admissible
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    r, c = linear_assignment(cost, 1.0)  # global optimum 0.2 + 0.15 beats 0.1 + 0.9
    assert dict(zip(r.tolist(), c.tolist())) == {0: 1, 1: 0}
    # level 1 first: row 0 takes its best column
    r, c = matching_cascade(cost, np.array([1, 2]), 1.0)
    assert dict(zip(r.tolist(), c.tolist())) == {0: 0, 1: 1}


def test_fuse_costs_ignores_missing_cues_and_oks():
    iou_c = np.array([[0.2, 0.8]])
    app = np.array([[np.nan, 0.1]])
    fused = fuse_costs((iou_c, app, None), (1.0, 1.0, 0.5))
    np.testing.assert_allclose(fused, [[0.2, 0.45]])
    kp = np.random.default_rng(0).uniform(0, 100, (1, 17, 2))
    vis = np.ones((1, 17), bool)
    assert oks_pairs(kp, vis, np.array([100.0 * 200]), kp, vis)[0] == pytest.approx(1.0)
    far = oks_pairs(kp, vis, np.array([100.0 * 200]), kp + 40, vis)[0]
    assert far < 0.2
    vis3 = vis.copy()
    vis3[0, 2:] = False  # 2 common keypoints < min_common 3
    assert np.isnan(oks_pairs(kp, vis3, np.array([1e4]), kp, vis)[0])


def test_cosine_gallery_distance_takes_the_closest_filled_slot():
    e = np.eye(4, dtype=np.float32)
    gallery = np.zeros((2, 3, 4), np.float32)
    gallery[0, 0], gallery[0, 1] = e[0], e[1]  # track 0: two features, slot 2 unused
    gallery[0, 2] = e[2]  # stale value in an unused slot must be ignored
    gallery[1, 0] = e[3]
    counts = np.array([2, 0])  # track 1 has no feature yet
    feats = np.stack([e[1], e[2], (e[0] + e[3]) / np.sqrt(2)])
    d = cosine_gallery_distance(gallery, counts, feats)
    assert d.shape == (2, 3)
    np.testing.assert_allclose(d[0], [0.0, 1.0, 1.0 - 1.0 / np.sqrt(2)], atol=1e-6)
    assert np.isnan(d[1]).all()
    np.testing.assert_allclose(
        cosine_gallery_distance(gallery[:1, :1], np.array([1]), -e[:1]), 2.0
    )


def test_move_keypoints_follows_the_box():
    old = xyxy_to_xyah(np.array([[100.0, 100.0, 150.0, 250.0]]))
    new = xyxy_to_xyah(np.array([[200.0, 50.0, 300.0, 350.0]]))  # moved, twice the size
    kp = np.array([[[100.0, 100.0], [125.0, 175.0], [150.0, 250.0]]])  # corner, centre, corner
    moved = move_keypoints(kp, old, new)
    np.testing.assert_allclose(moved, [[[200, 50], [250, 200], [300, 350]]])
    np.testing.assert_allclose(move_keypoints(kp, old, old), kp)
