"""Tracker (poseflow_ros.track.tracker).

Lifecycle, gate, low-score recovery, occlusion with appearance, pose cue and keypoint output,
determinism, bad input, box output and coasting, lost-track options.
"""

import numpy as np
import pytest

from poseflow_ros.geometry import xyah_to_xyxy
from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.types import TrackerInput, TrackState


def inp(boxes, scores=None, **kw):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if scores is None:
        scores = np.full(len(boxes), 0.9, np.float32)
    return TrackerInput(boxes, np.asarray(scores, np.float32), **kw)


def box_at(x, y=100.0, w=50.0, h=150.0):
    return [x, y, x + w, y + h]


# DeepSORT's Kalman noise (weak smoothing, velocity learnt within a few frames), for tests about
# motion
DEEPSORT_KF = dict(
    std_weight_position=1 / 20,
    std_weight_velocity=1 / 160,
    std_weight_measurement=1 / 20,
    lost_noise_scale=1.0,
)


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
            # coast_frames: the first `coast` frames of the gap are still reported (LOST, predicted
            # box)
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


def test_gate_stops_a_confirmed_track_jumping_to_a_far_box():
    """The Kalman gate keeps a confirmed track off a far box (a new track starts instead)."""
    tr = Tracker(TrackerConfig(n_init=1, max_match_cost=1.0))
    assert [o.track_id for o in tr.update(inp([box_at(100)]))] == [1]
    # IoU 0 but max_match_cost 1.0 would allow it: the gate stops it
    outs = tr.update(inp([box_at(400)]))
    # track 1 is unmatched (coasting: reported with its prediction for coast_frames), track 2 takes
    # the box
    assert [(o.track_id, o.detection_index) for o in outs] == [(1, -1), (2, 0)]


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
    """Build frames: A walks right, B walks left (same box size, same row).

    B is hidden behind A for the frames in ``hidden``; with ``reverse`` B turns back while hidden
    (so motion alone predicts the wrong place).
    """
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


@pytest.mark.parametrize(
    'hidden,n,b_ids',
    [
        ((18, 26), 45, {2}),  # 8 frames hidden
        ((16, 30), 45, {2}),  # 14 frames
        ((10, 45), 70, {2, 3}),  # 35 frames > max_age 30: B's track is deleted, B is new after
    ],
)
def test_occlusion_crossing(hidden, n, b_ids):
    # constant velocity through the occlusion: Kalman alone keeps both ids, so do features
    for use in (True, False):
        assert ids_per_person(crossing(hidden, n=n), use) == {'A': {1}, 'B': b_ids}
    # B turns back while hidden: only appearance re-identifies B; without it B gets a new id
    # (fragmentation, not a swap: A is never given B's id)
    assert ids_per_person(crossing(hidden, reverse=True, n=n), True) == {'A': {1}, 'B': b_ids}
    no_app = ids_per_person(crossing(hidden, reverse=True, n=n), False)
    assert no_app['A'] == {1} and no_app['B'] == {2, 3}


def test_appearance_prevents_swap_between_adjacent_people():
    """Two people side by side swap places in one frame (e.g. detector boxes jump).

    IoU alone follows the boxes, appearance follows the people.
    """
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


# ---------------------------------------------------------------- pose cue, determinism, input
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
    # lost: keypoints moved with the predicted box (translated with its centre, scaled with its
    # size)
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


def test_bad_input_is_rejected_or_ignored():
    tr = Tracker(TrackerConfig(n_init=1))
    outs = tr.update(inp([box_at(100), [np.nan, 0, 10, 10], [50, 50, 40, 60]]))
    assert [o.detection_index for o in outs] == [0]
    with pytest.raises(ValueError):
        tr.update(inp([box_at(100)], features=np.ones((2, 8), np.float32)))


# ---------------------------------------------------------------- box output and lost tracks
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
    """Two candidates inside the gate.

    IoU prefers a box of the wrong size at the right place; the motion cost (Mahalanobis, which
    knows the height is stable) prefers the right size slightly shifted.
    """

    def pick(motion_weight):
        tr = Tracker(TrackerConfig(n_init=1, motion_weight=motion_weight, max_match_cost=1.0))
        for _ in range(15):
            tr.update(inp([box_at(100)]))
        taller = [100, 85, 150, 265]  # same centre, 20 % taller: IoU 0.83
        shifted = box_at(106)  # same size, 6 px right: IoU 0.79
        outs = tr.update(inp([taller, shifted]))
        return {o.track_id: o.detection_index for o in outs if o.detection_index >= 0}[1]

    assert pick(0.0) == 0 and pick(1.0) == 1
