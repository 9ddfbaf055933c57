"""Tracker tests: Kalman maths, gating, assignment, lifecycle, occlusion, low-score recovery, determinism."""

import numpy as np
import pytest

from poseflow_ros.geometry import iou_matrix
from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.track.kalman import (
    CHI2INV95,
    KalmanFilter,
    full_covariance,
    xyah_to_xyxy,
    xyxy_to_xyah,
)
from poseflow_ros.track.matching import fuse_costs, linear_assignment, matching_cascade, oks_pairs
from poseflow_ros.types import TrackerInput, TrackState


def inp(boxes, scores=None, **kw):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if scores is None:
        scores = np.full(len(boxes), 0.9, np.float32)
    return TrackerInput(boxes, np.asarray(scores, np.float32), **kw)


def box_at(x, y=100.0, w=50.0, h=150.0):
    return [x, y, x + w, y + h]


# DeepSORT's Kalman noise (weak smoothing, velocity learnt within a few frames), for tests about motion
DEEPSORT_KF = dict(
    std_weight_position=1 / 20,
    std_weight_velocity=1 / 160,
    std_weight_measurement=1 / 20,
    lost_noise_scale=1.0,
)


# ---------------------------------------------------------------- Kalman filter
def test_kalman_initiate_predict_update_by_hand():
    kf = KalmanFilter()  # wp = 1/20, wv = 1/160
    z0 = np.array([[100.0, 200.0, 0.5, 100.0]])
    mean, cov = kf.initiate(z0)
    P = full_covariance(cov)[0]
    # initial std: 2*wp*h = 10 (x, y, h), 1e-2 (a), 10*wv*h = 6.25 (vx, vy, vh), 1e-5 (va)
    np.testing.assert_allclose(np.diag(P), [100, 100, 1e-4, 100, 39.0625, 39.0625, 1e-10, 39.0625])
    assert np.count_nonzero(P - np.diag(np.diag(P))) == 0

    mean, cov = kf.predict(mean, cov)
    P = full_covariance(cov)[0]
    # x: P_xx + P_vv + (wp h)^2 = 100 + 39.0625 + 25; cross term = P_vv; P_vv + (wv h)^2 = 39.0625 + 0.390625
    assert P[0, 0] == pytest.approx(164.0625)
    assert P[0, 4] == pytest.approx(39.0625) and P[4, 0] == pytest.approx(39.0625)
    assert P[4, 4] == pytest.approx(39.453125)
    assert P[2, 2] == pytest.approx(1e-4 + 1e-4)  # aspect: 1e-2^2 + 1e-2^2 (+ tiny velocity)
    np.testing.assert_allclose(mean[0], [100, 200, 0.5, 100, 0, 0, 0, 0])

    z1 = np.array([[110.0, 200.0, 0.5, 100.0]])
    mean2, cov2 = kf.update(mean, cov, z1)
    s = 164.0625 + 25.0  # S_x = P_xx + (wp h)^2
    assert mean2[0, 0] == pytest.approx(100 + 164.0625 / s * 10)
    assert mean2[0, 4] == pytest.approx(39.0625 / s * 10)  # velocity gain = P_xv / S_x
    P2 = full_covariance(cov2)[0]
    assert P2[0, 0] == pytest.approx(164.0625 - 164.0625**2 / s)
    assert P2[4, 4] == pytest.approx(39.453125 - 39.0625**2 / s)


def test_kalman_matches_full_matrix_formulas():
    """Block implementation == textbook 8x8 equations (computed here with plain numpy)."""
    rng = np.random.default_rng(1)
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[50.0, 60.0, 0.4, 120.0], [300.0, 200.0, 0.6, 80.0]]))
    mean[:, 4:] = rng.normal(size=(2, 4))
    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    H = np.eye(4, 8)
    for _ in range(3):
        P = full_covariance(cov)
        m_new, c_new = kf.predict(mean, cov)
        z = mean[:, :4] + rng.normal(0, 2, (2, 4)) * [1, 1, 0.01, 1]
        m_up, c_up = kf.update(m_new, c_new, z)
        for i in range(2):
            h = mean[i, 3]
            Q = np.diag(np.square([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]))
            Pp = F @ P[i] @ F.T + Q
            np.testing.assert_allclose(full_covariance(c_new)[i], Pp, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(m_new[i], F @ mean[i])
            hp = m_new[i, 3]
            S = H @ Pp @ H.T + np.diag(np.square([hp / 20, hp / 20, 1e-1, hp / 20]))
            K = Pp @ H.T @ np.linalg.inv(S)
            np.testing.assert_allclose(m_up[i], m_new[i] + K @ (z[i] - H @ m_new[i]), rtol=1e-10)
            np.testing.assert_allclose(
                full_covariance(c_up)[i], Pp - K @ S @ K.T, rtol=1e-8, atol=1e-10
            )
            d = z[i] - H @ m_new[i]
            assert kf.gating_distance(m_new, c_new, z)[i, i] == pytest.approx(
                d @ np.linalg.inv(S) @ d
            )
        mean, cov = m_up, c_up


def test_gating_rejects_far_detection():
    kf = KalmanFilter()
    mean, cov = kf.initiate(xyxy_to_xyah(np.array([box_at(100)])))
    mean, cov = kf.predict(mean, cov)
    near = xyxy_to_xyah(np.array([box_at(103)]))
    far = xyxy_to_xyah(np.array([box_at(200)]))
    d2 = kf.gating_distance(mean, cov, np.concatenate([near, far]))
    assert d2[0, 0] < CHI2INV95[4] < d2[0, 1]
    # in the tracker: a confirmed track does not jump to a far box (a new track starts instead)
    tr = Tracker(TrackerConfig(n_init=1, max_match_cost=1.0))
    assert [o.track_id for o in tr.update(inp([box_at(100)]))] == [1]
    outs = tr.update(
        inp([box_at(400)])
    )  # IoU 0 but max_match_cost 1.0 would allow it: the gate stops it
    # track 1 is unmatched (coasting, reported with its prediction for coast_frames), track 2 takes the box
    assert [(o.track_id, o.detection_index) for o in outs] == [(1, -1), (2, 0)]


def test_box_conversions_roundtrip():
    b = np.array([[10.0, 20.0, 60.0, 170.0]])
    np.testing.assert_allclose(xyxy_to_xyah(b), [[35, 95, 50 / 150, 150]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(b)), b)


# ---------------------------------------------------------------- costs and assignment
def test_iou_and_assignment():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 110, 110]], float)
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou, [[50 / 150, 1, 0], [0, 0, 0]])
    r, c = linear_assignment(1 - iou, 0.7)
    assert r.tolist() == [0] and c.tolist() == [1]  # row 1 has nothing admissible
    cost = np.array([[0.1, 0.2], [0.15, 0.9]])
    r, c = linear_assignment(cost, 1.0)  # global optimum 0.2 + 0.15 beats 0.1 + 0.9
    assert dict(zip(r.tolist(), c.tolist())) == {0: 1, 1: 0}
    r, c = matching_cascade(
        cost, np.array([1, 2]), 1.0
    )  # level 1 first: row 0 takes its best column
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


# ---------------------------------------------------------------- lifecycle
def test_tentative_then_confirmed_after_n_init():
    tr = Tracker(TrackerConfig(n_init=3, output_filtered_box=False))
    assert tr.update(inp([box_at(100)])) == []
    assert tr.update(inp([box_at(103)])) == []
    outs = tr.update(inp([box_at(106)]))
    assert len(outs) == 1
    o = outs[0]
    assert (o.track_id, o.state, o.hits, o.age, o.time_since_update, o.detection_index) == (
        1,
        TrackState.CONFIRMED,
        3,
        3,
        0,
        0,
    )
    np.testing.assert_allclose(o.box, box_at(106))


def test_tentative_deleted_on_first_miss():
    tr = Tracker(TrackerConfig(n_init=3, output_tentative=True))
    outs = tr.update(inp([box_at(100)]))
    assert [(o.track_id, o.state) for o in outs] == [(1, TrackState.TENTATIVE)]
    assert tr.update(inp([])) == []
    assert tr.ended_ids == [1] and len(tr) == 0
    # ids are never reused
    assert [o.track_id for o in tr.update(inp([box_at(100)]))] == [2]


def test_confirmed_lost_deleted_and_ids_not_reused():
    tr = Tracker(TrackerConfig(n_init=2, max_age=3, output_lost=True, **DEEPSORT_KF))
    for k in range(3):
        outs = tr.update(inp([box_at(100 + 4 * k)]))
    assert outs[0].state == TrackState.CONFIRMED
    for k in range(1, 4):  # lost for max_age frames: still reported
        outs = tr.update(inp([]))
        assert len(outs) == 1 and outs[0].state == TrackState.LOST
        assert outs[0].time_since_update == k and outs[0].detection_index == -1
        assert tr.ended_ids == []
    # predicted box keeps moving with the estimated velocity (~4 px/frame to the right)
    assert outs[0].box[0] > 108 + 4
    assert tr.update(inp([])) == []  # max_age exceeded -> deleted
    assert tr.ended_ids == [1] and len(tr) == 0
    tr.update(inp([box_at(100)]))
    assert tr.ids.tolist() == [2]


def test_lost_track_recovers_its_id_and_output_lost_flag():
    for output_lost, coast in ((False, 0), (True, 0), (False, 2)):
        tr = Tracker(
            TrackerConfig(n_init=1, max_age=10, output_lost=output_lost, coast_frames=coast)
        )
        for k in range(5):
            tr.update(inp([box_at(100 + 3 * k)]))
        for k in range(5, 9):
            outs = tr.update(inp([]))
            # coast_frames: the first `coast` frames of the gap are still reported (LOST, predicted box)
            assert len(outs) == (1 if output_lost or k - 4 <= coast else 0)
            assert all(o.state == TrackState.LOST and o.detection_index == -1 for o in outs)
        outs = tr.update(inp([box_at(100 + 3 * 9)]))
        assert [(o.track_id, o.state, o.time_since_update) for o in outs] == [
            (1, TrackState.CONFIRMED, 0)
        ]


def test_reset_keeps_id_counter_and_ends_tracks():
    tr = Tracker(TrackerConfig(n_init=1))
    tr.update(inp([box_at(100), box_at(300)]))
    tr.reset()
    assert tr.ended_ids == [1, 2] and len(tr) == 0
    assert [o.track_id for o in tr.update(inp([box_at(100)]))] == [3]


# ---------------------------------------------------------------- low-score association
def test_low_score_detection_keeps_track_alive():
    frames = (
        [([box_at(100 + 4 * k)], [0.9]) for k in range(4)]
        + [([box_at(116)], [0.3])]
        + [([box_at(120 + 4 * k)], [0.9]) for k in range(2)]
    )
    # max_age 0: a single missed frame ends a track, so only the low-score match keeps id 1 alive
    for use_low, expect in ((True, [1]), (False, [2])):
        cfg = TrackerConfig(
            n_init=2, max_age=0, output_lost=True, low_score_threshold=0.1 if use_low else 0.5
        )
        tr = Tracker(cfg)
        for b, s in frames[:4]:
            tr.update(inp(b, s))
        outs = tr.update(inp(*frames[4]))
        if use_low:
            assert [(o.track_id, o.state, o.detection_index) for o in outs] == [
                (1, TrackState.CONFIRMED, 0)
            ]
            assert outs[0].score == pytest.approx(0.3)
        else:  # the 0.3 box is ignored: the track is missed, ends
            assert outs == [] and tr.ended_ids == [1]
        for b, s in frames[5:]:
            outs = tr.update(inp(b, s))
        assert [o.track_id for o in outs] == expect
    # a low-score box never starts a track
    tr = Tracker(TrackerConfig(n_init=1))
    assert tr.update(inp([box_at(100)], [0.3])) == [] and len(tr) == 0


# ---------------------------------------------------------------- occlusion with appearance
def crossing(hidden=(18, 26), reverse=False, n=45, speed=6.0):
    """A walks right, B walks left (same box size, same row); B is hidden behind A for the frames in
    ``hidden``; with ``reverse`` B turns back while hidden (so motion alone predicts the wrong place)."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2, 64))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    frames = []
    for t in range(n):
        xa = 100 + speed * t
        xb = 364 - speed * t if not reverse or t < 22 else 232 + speed * (t - 22)
        boxes, who = [box_at(xa)], ['A']
        if not hidden[0] <= t < hidden[1]:
            boxes.append(box_at(xb, y=102))
            who.append('B')
        f = emb[[0 if w == 'A' else 1 for w in who]] + rng.normal(0, 0.02, (len(who), 64))
        frames.append((boxes, f.astype(np.float32), who))
    return frames


def ids_per_person(frames, use_features):
    tr = Tracker(TrackerConfig(n_init=2))
    ids = {'A': set(), 'B': set()}
    for boxes, f, who in frames:
        for o in tr.update(inp(boxes, features=f if use_features else None)):
            if o.detection_index >= 0:
                ids[who[o.detection_index]].add(o.track_id)
    return ids


@pytest.mark.parametrize('hidden', [(18, 26), (16, 30)])
def test_occlusion_crossing(hidden):
    # constant velocity through the occlusion: Kalman alone keeps both ids, so do features
    for use in (True, False):
        assert ids_per_person(crossing(hidden), use) == {'A': {1}, 'B': {2}}
    # B turns back while hidden: only appearance re-identifies B; without it B gets a new id
    # (fragmentation, not a swap: A is never given B's id)
    assert ids_per_person(crossing(hidden, reverse=True), True) == {'A': {1}, 'B': {2}}
    no_app = ids_per_person(crossing(hidden, reverse=True), False)
    assert no_app['A'] == {1} and no_app['B'] == {2, 3}


def test_appearance_prevents_swap_between_adjacent_people():
    """Two people side by side swap places in one frame (e.g. detector boxes jump): IoU alone follows the
    boxes, appearance follows the people."""
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(2, 32))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    res = {}
    for use in (True, False):
        tr = Tracker(TrackerConfig(n_init=1, max_match_cost=0.9))
        for t in range(6):
            tr.update(inp([box_at(100), box_at(130)], features=emb if use else None))
        outs = tr.update(
            inp([box_at(100), box_at(130)], features=emb[::-1].copy() if use else None)
        )
        res[use] = {o.track_id: o.detection_index for o in outs}
    assert res[False] == {1: 0, 2: 1}  # boxes did not move: IoU keeps the box assignment
    assert res[True] == {1: 1, 2: 0}  # the features moved: appearance follows them


# ---------------------------------------------------------------- pose cue, determinism, config
def test_pose_cue_and_keypoints_output():
    rng = np.random.default_rng(0)
    tmpl = rng.uniform(0, 1, (17, 2))

    def pose(b):
        b = np.asarray(b, np.float32)
        return (b[:2] + tmpl * (b[2:] - b[:2]))[None].astype(np.float32)

    tr = Tracker(TrackerConfig(n_init=1, output_lost=True, **DEEPSORT_KF))
    for k in range(4):
        b = box_at(100 + 5 * k)
        outs = tr.update(inp([b], keypoints=pose(b), keypoint_scores=np.ones((1, 17), np.float32)))
    np.testing.assert_allclose(outs[0].keypoints_raw, pose(box_at(115))[0], atol=1e-4)
    # smoothing on (default): the reported pose lags the raw one a little while it moves right
    lag = (outs[0].keypoints_raw - outs[0].keypoints)[:, 0]
    assert (lag > 0).all() and lag.max() < 10  # under 2 frames of motion
    hat = outs[0].keypoints.copy()
    outs = tr.update(inp([]))
    # lost: keypoints moved with the predicted box (translated with its centre, scaled with its size)
    old = np.asarray(box_at(115), np.float64)
    new = outs[0].box.astype(np.float64)
    assert new[0] > old[0] + 2  # moving right at ~5 px/frame
    scale = (new[2:] - new[:2]) / (old[2:] - old[:2])
    expect = (pose(old)[0] - (old[:2] + old[2:]) / 2) * scale + (new[:2] + new[2:]) / 2
    np.testing.assert_allclose(outs[0].keypoints_raw, expect, atol=1e-3)
    expect_hat = (hat - (old[:2] + old[2:]) / 2) * scale + (new[:2] + new[2:]) / 2
    np.testing.assert_allclose(outs[0].keypoints, expect_hat, atol=1e-3)
    assert outs[0].keypoint_scores.shape == (17,)


def test_determinism():
    frames = crossing((16, 30), reverse=True)

    def run():
        tr = Tracker(TrackerConfig(n_init=2, output_lost=True, output_tentative=True))
        out = []
        for boxes, f, _ in frames:
            for o in tr.update(inp(boxes, features=f)):
                out.append(
                    (
                        o.track_id,
                        int(o.state),
                        o.age,
                        o.hits,
                        o.time_since_update,
                        o.detection_index,
                        o.box.tobytes(),
                        o.score,
                    )
                )
            out.append(tuple(tr.ended_ids))
        return out

    assert run() == run()


def test_config_dict_roundtrip_and_validation():
    cfg = TrackerConfig(n_init=5, output_lost=True)
    d = cfg.to_dict()
    assert all(type(v) in (bool, int, float, str) for v in d.values())  # ROS parameter types
    assert TrackerConfig.from_dict(d) == cfg
    assert TrackerConfig.from_dict({'max_age': 7.0}).max_age == 7
    with pytest.raises(ValueError, match='unknown'):
        TrackerConfig.from_dict({'nope': 1})
    with pytest.raises(ValueError):
        TrackerConfig(low_score_threshold=0.8, high_score_threshold=0.5)


def test_bad_input_is_rejected_or_ignored():
    tr = Tracker(TrackerConfig(n_init=1))
    outs = tr.update(inp([box_at(100), [np.nan, 0, 10, 10], [50, 50, 40, 60]]))
    assert [o.detection_index for o in outs] == [0]
    with pytest.raises(ValueError):
        tr.update(inp([box_at(100)], features=np.ones((2, 8), np.float32)))


# ---------------------------------------------------------------- issue #3 options
def test_kalman_measurement_weight_and_noise_scale_by_hand():
    """std_weight_measurement sets R and the initial position std; noise_scale multiplies Q's stds."""
    kf = KalmanFilter(
        std_weight_position=1 / 160, std_weight_velocity=1 / 640, std_weight_measurement=0.065
    )
    z = np.array([[100.0, 200.0, 0.5, 100.0]])
    mean, cov = kf.initiate(z)
    assert full_covariance(cov)[0, 0, 0] == pytest.approx((2 * 0.065 * 100) ** 2)
    assert full_covariance(cov)[0, 4, 4] == pytest.approx((10 / 640 * 100) ** 2)
    m1, c1 = kf.predict(mean, cov)
    m3, c3 = kf.predict(mean, cov, noise_scale=np.array([3.0]))
    q = (100 / 160) ** 2
    p_no_q = full_covariance(c1)[0, 0, 0] - q
    assert full_covariance(c3)[0, 0, 0] == pytest.approx(p_no_q + 9 * q)
    np.testing.assert_allclose(m1, m3)
    # innovation variance = P + R with R = (0.065 h)^2
    assert kf.innovation_variance(m1, c1)[0, 0] == pytest.approx(
        full_covariance(c1)[0, 0, 0] + 6.5**2
    )
    # default (no measurement weight) is DeepSORT: R from std_weight_position
    kd = KalmanFilter()
    assert kd.std_weight_measurement == kd.std_weight_position


def test_output_filtered_box_and_coasting_defaults():
    cfg = TrackerConfig()
    assert cfg.output_filtered_box and cfg.coast_frames == 2 and not cfg.output_lost
    rng = np.random.default_rng(0)
    tr_f, tr_r = Tracker(cfg), Tracker(TrackerConfig(output_filtered_box=False))
    err_f, err_r = [], []
    for k in range(40):
        truth = np.array(box_at(100 + 3 * k))
        b = truth + rng.normal(0, 4, 4)
        of, orw = tr_f.update(inp([b])), tr_r.update(inp([b]))
        if k >= 10:
            np.testing.assert_allclose(orw[0].box, b, rtol=1e-6)  # raw: the detection
            np.testing.assert_allclose(of[0].box, xyah_to_xyxy(tr_f.mean[:1, :4])[0], rtol=1e-5)
            err_f.append(np.abs(of[0].box - truth).mean())
            err_r.append(np.abs(orw[0].box - truth).mean())
    assert np.mean(err_f) < 0.8 * np.mean(err_r)  # smoothing: closer to the true box
    # two missed frames are reported with the prediction (LOST), the third is not; the id resumes
    ids = []
    for k in range(40, 43):
        outs = tr_f.update(inp([]))
        ids.append([(o.track_id, o.state, o.detection_index) for o in outs])
    assert ids == [[(1, TrackState.LOST, -1)], [(1, TrackState.LOST, -1)], []]
    assert [o.track_id for o in tr_f.update(inp([box_at(100 + 3 * 43)]))] == [1]


def test_freeze_lost_size_and_lost_noise_scale():
    def lost_after_growth(**kw):
        tr = Tracker(TrackerConfig(n_init=1, **DEEPSORT_KF, **kw))
        for k in range(12):  # box grows 2 px/frame in height
            tr.update(inp([[100, 100, 150, 250 + 2 * k]]))
        h0 = tr.mean[0, 3]
        for _ in range(6):
            tr.update(inp([]))
        return tr, tr.mean[0, 3] - h0

    _, grow = lost_after_growth(freeze_lost_size=False)
    _, frozen = lost_after_growth(freeze_lost_size=True)
    assert grow > 6 and abs(frozen) < 3  # first lost frame still extrapolates, then the size stops
    # lost_noise_scale widens the gate once a track is lost beyond coast_frames
    tight = Tracker(TrackerConfig(n_init=1, lost_noise_scale=1.0))
    wide = Tracker(TrackerConfig(n_init=1, lost_noise_scale=5.0))
    for tr in (tight, wide):
        for k in range(10):
            tr.update(inp([box_at(100)]))
        for _ in range(10):
            tr.update(inp([]))
    p_t, p_w = tight.cov[0, 0, 0], wide.cov[0, 0, 0]  # predicted x variance
    s_t = tight.kf.innovation_variance(tight.mean, tight.cov)[0, 0]
    s_w = wide.kf.innovation_variance(wide.mean, wide.cov)[0, 0]
    assert p_w > 2 * p_t
    assert s_w > 1.8 * s_t  # the gate (P + R) is wider


def test_motion_weight_prefers_the_consistent_box():
    """Two candidates inside the gate: IoU prefers a box of the wrong size at the right place; the motion
    cost (Mahalanobis, which knows the height is stable) prefers the right size slightly shifted."""

    def pick(motion_weight):
        tr = Tracker(TrackerConfig(n_init=1, motion_weight=motion_weight, max_match_cost=1.0))
        for _ in range(15):
            tr.update(inp([box_at(100)]))
        taller = [100, 85, 150, 265]  # same centre, 20 % taller: IoU 0.83
        shifted = box_at(106)  # same size, 6 px right: IoU 0.79
        outs = tr.update(inp([taller, shifted]))
        return {o.track_id: o.detection_index for o in outs if o.detection_index >= 0}[1]

    assert pick(0.0) == 0 and pick(1.0) == 1
