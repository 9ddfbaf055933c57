"""The 3D stage.

Depth decoding, the camera model, robust keypoint depth, position/velocity, monocular placement
(synthetic cases with known answers) and the real registered RGB-D frame five_people.
"""

from copy import copy
from dataclasses import replace

import cv2
import numpy as np
import pytest
import yaml

from poseflow_ros.camera import CameraModel
from poseflow_ros.depth import (
    SOURCE_DEPTH,
    SOURCE_MONOCULAR,
    SOURCE_NONE,
    DepthConfig,
    DepthStage,
    Poses3D,
    depth_to_metres,
    fit_translation,
    height_scale,
)
from poseflow_ros.paths import shared_dir
from poseflow_ros.types import TrackOutput, TrackState

K640 = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]
# the HSR head camera's CameraInfo (plumb_bob with a strong k3)
HSR_K = [537.0318, 0.0, 320.6603, 0.0, 537.5638, 227.6980, 0.0, 0.0, 1.0]
HSR_D = [0.02827, 0.04872, -0.00147, 0.00265, -0.49247]

# a standing person, hip-centred, metres, optical axes (x right, y down, z away), COCO order
SKELETON = np.array(
    [
        [0.0, -0.62, -0.08],
        [-0.03, -0.65, -0.06],
        [0.03, -0.65, -0.06],
        [-0.07, -0.63, 0.0],
        [0.07, -0.63, 0.0],
        [-0.18, -0.45, 0.0],
        [0.18, -0.45, 0.0],
        [-0.22, -0.18, 0.02],
        [0.22, -0.18, 0.02],
        [-0.24, 0.06, -0.02],
        [0.24, 0.06, -0.02],
        [-0.10, 0.0, 0.0],
        [0.10, 0.0, 0.0],
        [-0.11, 0.42, 0.01],
        [0.11, 0.42, 0.01],
        [-0.11, 0.83, 0.04],
        [0.11, 0.83, 0.04],
    ]
)


def cam640(d=(0.0,) * 5, k=K640):
    return CameraModel.from_k(k, d, 640, 480)


def make_track(cam, world_t, track_id=1, score=0.9, skeleton=SKELETON, det=0):
    """Make a matched track whose keypoints are the projections of ``skeleton + world_t``."""
    xyz = skeleton + np.asarray(world_t)
    kp = cam.project(xyz).astype(np.float32)
    lo, hi = kp.min(0), kp.max(0)
    pad = 0.1 * (hi - lo)
    box = np.array([lo[0] - pad[0], lo[1] - pad[1], hi[0] + pad[0], hi[1] + pad[1]], np.float32)
    return TrackOutput(
        track_id, TrackState.CONFIRMED, 5, 5, 0, box, 0.9, kp, np.full(17, score, np.float32), det
    ), xyz


def person_depth(track, z, background=6.0, shape=(480, 640)):
    """Depth image: background, and a fronto-parallel slab at ``z`` over the track's box."""
    d = np.full(shape, background, np.float32)
    x1, y1, x2, y2 = track.box.astype(int)
    d[max(0, y1) : y2, max(0, x1) : x2] = z
    return d


# ---------------------------------------------------------------------------------- depth decoding
def test_depth_to_metres_units_and_invalid_values():
    mm = np.array([[0, 1000], [2500, 65535]], np.uint16)
    m = depth_to_metres(mm, '16UC1')
    assert m.dtype == np.float32 and np.isnan(m[0, 0])
    np.testing.assert_allclose(m[[0, 1, 1], [1, 0, 1]], [1.0, 2.5, 65.535], rtol=1e-6)
    np.testing.assert_allclose(depth_to_metres(mm, 'mono16')[0, 1], 1.0)
    np.testing.assert_allclose(depth_to_metres(mm, '16UC1', depth_scale=0.000125)[0, 1], 0.125)
    f = np.array([[np.nan, np.inf], [-1.0, 1.5]], np.float32)
    m = depth_to_metres(f, '32FC1')
    assert np.isnan(m[0]).all() and np.isnan(m[1, 0]) and m[1, 1] == 1.5
    assert depth_to_metres(f[..., None], '32FC1')[1, 1] == 1.5  # H x W x 1 accepted
    np.testing.assert_allclose(depth_to_metres(f, '32FC1', depth_scale=0.001)[1, 1], 0.0015)
    with pytest.raises(ValueError, match='not supported'):
        depth_to_metres(mm, 'rgb8')
    with pytest.raises(ValueError, match='uint16'):
        depth_to_metres(f, '16UC1')
    with pytest.raises(ValueError, match='one channel'):
        depth_to_metres(np.zeros((4, 4, 3), np.uint16), '16UC1')


# ------------------------------------------------------------------------------------ camera model
def test_camera_from_dict_valid_and_scaled():
    c = CameraModel.from_dict(
        {
            'fx': 525.0,
            'fy': 525.0,
            'cx': 319.5,
            'cy': 239.5,
            'width': 640,
            'height': 480,
            'distortion': [0, 0, 0, 0, 0],
        }
    )
    assert c.valid() and c.problem() is None and not c.has_distortion
    assert CameraModel.from_dict({'k': K640, 'd': [], 'width': 640, 'height': 480}).valid()
    bad = CameraModel.from_k([0.0] * 9, [], 640, 480)
    assert not bad.valid() and 'fx' in bad.problem()
    assert not CameraModel.from_k(K640, [], 0, 0).valid()
    half = c.scaled_to(320, 240)
    np.testing.assert_allclose(half.K, [[262.5, 0, 159.75], [0, 262.5, 119.75], [0, 0, 1]])
    # a point seen in the full image lands at half the pixel coordinates in the half-size one
    xyz = np.array([[0.3, -0.2, 2.0]])
    np.testing.assert_allclose(half.project(xyz), c.project(xyz) / 2, atol=0.3)


@pytest.mark.parametrize(
    'model,d',
    [
        ('plumb_bob', HSR_D),
        ('rational_polynomial', [0.1, -0.2, 0.001, -0.001, 0.05, 0.1, -0.1, 0.02]),
        ('equidistant', [0.05, -0.01, 0.002, -0.0005]),
    ],
)
def test_distortion_round_trip(model, d):
    c = CameraModel.from_k(HSR_K, d, 640, 480, model)
    u, v = np.meshgrid(np.linspace(0, 639, 17), np.linspace(0, 479, 13))
    px = np.stack([u.ravel(), v.ravel()], 1)
    if model == 'plumb_bob':
        # with k3 = -0.49 the model's distorted radius peaks at 0.73: pixels beyond (the two far
        # corners) have no undistorted point at all
        rd = np.hypot((px[:, 0] - c.cx) / c.fx, (px[:, 1] - c.cy) / c.fy)
        px = px[rd < 0.72]
    xn = c.undistort(px)
    back = c.project(np.concatenate([xn * 2.0, np.full((len(xn), 1), 2.0)], 1))
    assert np.abs(back - px).max() < 1e-3
    if model == 'plumb_bob':  # and it is really undistorting: corners move by pixels
        plain = CameraModel.from_k(HSR_K, [], 640, 480).undistort(px)
        assert np.abs((xn - plain) * 537.0).max() > 3.0
    assert np.isnan(c.project([[0.0, 0.0, -1.0]])).all()


# ------------------------------------------------------------------------------------- depth stage
def test_keypoint_depth_window_back_projection_and_position():
    cam = cam640()
    tr, xyz = make_track(cam, (0.4, 0.1, 2.5))
    depth = person_depth(tr, 2.5)
    out = DepthStage().process([tr], cam, depth, None, 1.0, (480, 640))
    assert isinstance(out, Poses3D) and out.source[0] == SOURCE_DEPTH and out.problem == ''
    # z is the slab's; x, y are the keypoints back-projected through K
    np.testing.assert_allclose(out.keypoints[0, :, 2], 2.5, atol=1e-6)
    np.testing.assert_allclose(out.keypoints[0, :, :2], xyz[:, :2] * 2.5 / xyz[:, 2:3], atol=2e-3)
    np.testing.assert_allclose(out.scores[0], 0.9, atol=1e-6)
    want = np.mean([xyz[[5, 6]].mean(0), xyz[[11, 12]].mean(0)], 0) * 2.5 / xyz[11:13, 2].mean()
    np.testing.assert_allclose(out.positions[0], want, atol=0.01)
    assert np.isnan(out.velocities[0]).all()  # one observation: velocity unknown


def test_outliers_nan_holes_and_range_are_ignored():
    cam = cam640()
    tr, _ = make_track(cam, (0.0, 0.1, 2.0))
    depth = person_depth(tr, 2.0)
    kp = tr.keypoints.astype(int)
    rng = np.random.default_rng(0)
    # around every keypoint: a third of the window is someone in front (1.0 m) or background (5 m),
    # and NaN holes
    for x, y in np.delete(kp, [8, 10], 0):
        win = depth[y - 12 : y + 13, x - 12 : x + 13]
        r = rng.random(win.shape)
        win[r < 0.15] = 1.0
        win[(r >= 0.15) & (r < 0.3)] = 5.0
        win[(r >= 0.3) & (r < 0.45)] = np.nan
    # most of these windows are not the person: a plain median would give 5.0 and 1.0
    for j, other in ((10, 5.0), (8, 1.0)):
        x, y = kp[j]
        win = depth[y - 12 : y + 13, x - 12 : x + 13]
        win[rng.random(win.shape) < 0.6] = other
    lw = kp[9]  # left wrist: its whole window is NaN -> no 3D
    depth[lw[1] - 30 : lw[1] + 30, lw[0] - 30 : lw[0] + 30] = np.nan
    rk = kp[14]  # right knee: beyond max_range (and the 0 m sentinel)
    depth[rk[1] - 30 : rk[1] + 30, rk[0] - 30 : rk[0] + 30] = 25.0
    cfg = DepthConfig(max_range=10.0)
    out = DepthStage(cfg).process([tr], cam, depth, None, 1.0, (480, 640))
    z = out.keypoints[0, :, 2]
    has = out.scores[0] > 0
    assert not has[9] and np.isnan(out.keypoints[0, 9]).all()
    assert not has[14] and np.isnan(z[14])
    assert has.sum() == 15
    np.testing.assert_allclose(z[has], 2.0, atol=1e-6)  # neither 1.0 nor 5.0 leaks in
    # min_range: a person closer than it is not measured at all
    out = DepthStage(DepthConfig(min_range=3.0)).process(
        [tr], cam, person_depth(tr, 2.0), None, 1.0
    )
    assert (
        out.source[0] == SOURCE_NONE
        and (out.scores[0] == 0).all()
        and np.isnan(out.positions[0]).all()
    )


def test_window_follows_the_person_size():
    cam = cam640()
    near, _ = make_track(cam, (0.0, 0.0, 2.0))  # ~420 px tall: window half-size ~8 px
    far, _ = make_track(cam, (0.0, 0.0, 8.0))  # ~105 px tall: ~2 px
    for tr, z, expect in ((near, 2.0, True), (far, 8.0, False)):
        d = person_depth(tr, z)
        for x, y in tr.keypoints.astype(int):  # a 9 x 9 px hole at every keypoint
            d[y - 4 : y + 5, x - 4 : x + 5] = np.nan
        out = DepthStage().process([tr], cam, d, None, 1.0, (480, 640))
        assert (out.scores[0] > 0).all() == expect and (out.scores[0] > 0).any() == expect


def test_low_score_and_outside_keypoints_get_no_3d():
    cam = cam640()
    tr, _ = make_track(cam, (0.0, 0.0, 2.2))
    tr.keypoint_scores = tr.keypoint_scores.copy()
    tr.keypoint_scores[[0, 7]] = 0.1  # below keypoint_threshold 0.3
    tr.keypoints = tr.keypoints.copy()
    tr.keypoints[15] = (700.0, 300.0)  # outside the image
    out = DepthStage().process([tr], cam, person_depth(tr, 2.2), None, 1.0, (480, 640))
    assert (out.scores[0, [0, 7, 15]] == 0).all() and np.isnan(out.keypoints[0, [0, 7, 15]]).all()
    assert (out.scores[0, [1, 2, 5, 6, 11, 12]] > 0).all()


def test_depth_at_another_resolution_is_scaled():
    cam = cam640()
    tr, _ = make_track(cam, (-0.3, 0.05, 3.0))
    full = person_depth(tr, 3.0)
    half = cv2.resize(full, (320, 240), interpolation=cv2.INTER_NEAREST)
    a = DepthStage().process([tr], cam, full, None, 1.0, (480, 640))
    b = DepthStage().process([tr], cam, half, None, 1.0, (480, 640))
    assert b.source[0] == SOURCE_DEPTH and b.problem == ''
    np.testing.assert_allclose(b.keypoints, a.keypoints, atol=1e-5)
    # a camera info for another resolution of the same image is scaled to the image
    c = DepthStage().process([tr], cam.scaled_to(1280, 960), full, None, 1.0, (480, 640))
    np.testing.assert_allclose(c.keypoints, a.keypoints, atol=1e-4)


def test_distorted_camera_back_projects_to_the_true_points():
    cam = CameraModel.from_k(HSR_K, HSR_D, 640, 480)
    tr, xyz = make_track(cam, (0.5, 0.0, 2.0))
    out = DepthStage().process([tr], cam, None, None, 1.0)
    assert out.source[0] == SOURCE_NONE  # camera, no depth, no world landmarks
    # z of each keypoint known (a depth image with exactly those values along the rays)
    depth = np.full((480, 640), np.nan, np.float32)
    for (u, v), z in zip(np.rint(tr.keypoints).astype(int), xyz[:, 2]):
        depth[v - 3 : v + 4, u - 3 : u + 4] = z
    # smallest window (1 px) inside each patch; the person's median comes from the few patches in
    # the central part of the box, so accept keypoints up to 1 m from it (the nose is 8 cm nearer)
    out = DepthStage(DepthConfig(window_fraction=0.0, outlier_distance=1.0)).process(
        [tr], cam, depth, None, 1.0
    )
    has = out.scores[0] > 0
    assert has.sum() >= 12
    np.testing.assert_allclose(out.keypoints[0][has], xyz[has], atol=3e-3)


def test_velocity_is_smoothed_per_track_and_forgotten():
    cam = cam640()
    st = DepthStage(DepthConfig(velocity_window=0.5))
    vs = []
    for k in range(12):
        t = k / 30.0
        tr, _ = make_track(cam, (-0.5 + 1.0 * t, 0.0, 2.5 - 0.5 * t), track_id=7)
        tr2, _ = make_track(cam, (0.8, 0.0, 3.0), track_id=8)  # standing still
        out = st.process(
            [tr, tr2],
            cam,
            np.minimum(person_depth(tr, 2.5 - 0.5 * t), person_depth(tr2, 3.0)),
            None,
            100.0 + t,
            (480, 640),
        )
        vs.append(out.velocities.copy())
    np.testing.assert_allclose(vs[-1][0], [1.0, 0.0, -0.5], atol=0.08)
    np.testing.assert_allclose(vs[-1][1], [0.0, 0.0, 0.0], atol=0.02)
    assert np.isnan(vs[0]).all()
    # time going back (bag restarted): history cleared, velocity unknown again
    out = st.process([tr], cam, person_depth(tr, 2.0), None, 50.0, (480, 640))
    assert np.isnan(out.velocities[0]).all()
    # tracks that ended or are no longer reported are forgotten (bounded memory)
    st.forget([7])
    assert 7 not in st._hist
    for k in range(200):
        trk, _ = make_track(cam, (0.0, 0.0, 2.0), track_id=1000 + k)
        st.process([trk], cam, person_depth(trk, 2.0), None, 60.0 + k, (480, 640))
    assert len(st._hist) <= 2
    assert all(h[2] <= 64 for h in st._hist.values())


# --------------------------------------------------------------------------------------- monocular
def test_fit_translation_recovers_the_placement():
    cam = CameraModel.from_k(HSR_K, HSR_D, 640, 480)
    t_true = np.array([0.35, -0.1, 2.7])
    px = cam.project(SKELETON + t_true)
    xn = cam.undistort(px)
    np.testing.assert_allclose(fit_translation(SKELETON, xn, np.ones(17)), t_true, atol=1e-6)
    batch = fit_translation(np.stack([SKELETON, SKELETON]), np.stack([xn, xn]), np.ones((2, 17)))
    np.testing.assert_allclose(batch, [t_true, t_true], atol=1e-6)
    assert np.isnan(fit_translation(SKELETON, xn, np.r_[1.0, np.zeros(16)])).all()


@pytest.mark.parametrize('method', ['translation', 'pnp'])
def test_monocular_placement_without_depth(method):
    cam = CameraModel.from_k(HSR_K, HSR_D, 640, 480)
    tr, xyz = make_track(cam, (0.3, 0.0, 2.4), det=1)
    world = np.stack([SKELETON * 2, SKELETON])  # indexed by detection_index
    cfg = DepthConfig(monocular_height=0.0, monocular_method=method)
    out = DepthStage(cfg).process([tr], cam, None, world, 1.0)
    assert out.source[0] == SOURCE_MONOCULAR
    np.testing.assert_allclose(out.keypoints[0], xyz, atol=1e-3)
    np.testing.assert_allclose(out.scores[0], 0.9 * cfg.monocular_score, atol=1e-6)
    np.testing.assert_allclose(
        out.positions[0], np.mean([xyz[[5, 6]].mean(0), xyz[[11, 12]].mean(0)], 0), atol=1e-3
    )
    # monocular off: nothing
    out = DepthStage(replace(cfg, monocular=False)).process([tr], cam, None, world, 1.0)
    assert out.source[0] == SOURCE_NONE


def test_height_scale_and_depth_wins_over_monocular():
    vis = np.ones((1, 17), bool)
    s = height_scale(SKELETON[None], vis, 1.70)[0]
    from poseflow_ros.depth import _BONE_FRACTION, _BONES

    lengths = np.linalg.norm(SKELETON[_BONES[:, 0]] - SKELETON[_BONES[:, 1]], axis=1)
    np.testing.assert_allclose(s, (_BONE_FRACTION * 1.70).sum() / lengths.sum())
    cam = cam640()
    tr, _ = make_track(cam, (0.0, 0.0, 2.0))
    out = DepthStage().process([tr], cam, person_depth(tr, 2.0), SKELETON[None], 1.0)
    assert out.source[0] == SOURCE_DEPTH
    # all-NaN depth: the person falls back to monocular
    out = DepthStage().process(
        [tr], cam, np.full((480, 640), np.nan, np.float32), SKELETON[None], 1.0
    )
    assert out.source[0] == SOURCE_MONOCULAR


def test_bad_inputs_give_a_reason_and_no_3d():
    cam = cam640()
    tr, _ = make_track(cam, (0.0, 0.0, 2.0))
    d = person_depth(tr, 2.0)
    out = DepthStage().process([tr], CameraModel.from_k([0.0] * 9, [], 640, 480), d, None, 1.0)
    assert out.source[0] == SOURCE_NONE and 'fx' in out.problem
    out = DepthStage().process([tr], None, d, None, 1.0, (480, 640))
    assert out.source[0] == SOURCE_NONE and 'without camera' in out.problem
    out = DepthStage().process([tr], cam, np.zeros((480, 800), np.float32), None, 1.0, (480, 640))
    assert out.source[0] == SOURCE_NONE and 'aspect' in out.problem
    out = DepthStage().process([tr], cam, d.astype(np.float64), None, 1.0, (480, 640))
    assert out.source[0] == SOURCE_NONE and 'float32' in out.problem
    # a coasted (unmatched) track gets no 3D from whatever is at its predicted pixels
    lost = copy(tr)
    lost.time_since_update = 1
    out = DepthStage().process([lost, tr], cam, d, None, 1.0, (480, 640))
    assert list(out.source) == [SOURCE_NONE, SOURCE_DEPTH]
    assert len(DepthStage().process([], cam, d, None, 1.0)) == 0


def test_depth_settings_validate():
    from poseflow_ros.pipeline import PipelineConfig

    assert PipelineConfig.from_dict({'depth': {'max_range': 6.0}}).depth == {'max_range': 6.0}
    with pytest.raises(ValueError, match='max_range'):
        PipelineConfig(depth={'min_range': 5.0, 'max_range': 1.0})
    with pytest.raises(ValueError, match='unknown depth settings'):
        PipelineConfig(depth={'bogus': 1})


# --------------------------------------------------------------------------------------- real data
FIVE = shared_dir() / 'data' / 'rgbd' / 'five_people'


def central_median(depth, box):
    """Median valid depth of the central part of a box (x 30-70 %, y 20-60 %)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    a = depth[int(y1 + 0.2 * h) : int(y1 + 0.6 * h), int(x1 + 0.3 * w) : int(x1 + 0.7 * w)]
    return float(np.nanmedian(a))


@pytest.fixture(scope='module')
def five_people():
    if not FIVE.is_dir():
        pytest.skip(f'{FIVE} missing')
    from poseflow_ros import models
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from poseflow_ros.types import Frame

    for n in ('rtmdet_nano_person', 'blazepose_full'):
        models.fetch(n)
    # the defaults a user gets (temporal alignment-ROI crops; people walking side by side keep box
    # crops, see poseflow_ros.pose.roi.crowded: without that, two of them got one skeleton here)
    pipe = PosePipeline.from_config(PipelineConfig(device='cpu'))
    img = cv2.imread(str(FIVE / 'five_people_rgb.png'))
    depth = depth_to_metres(
        cv2.imread(str(FIVE / 'five_people_depth_mm.png'), cv2.IMREAD_UNCHANGED), '16UC1'
    )
    cam = CameraModel.from_dict(yaml.safe_load((FIVE / 'intrinsics.yaml').read_text()))

    def run(d, c=cam):
        pipe.tracker.reset()
        pipe.depth_stage.reset()
        if getattr(pipe, 'roi_memory', None) is not None:
            pipe.roi_memory.reset()
        for k in range(3):  # confirmed on the 2nd frame, at rest on the 3rd
            r = pipe.process(Frame(img, 10.0 + 0.1 * k, 'kinect', k, depth=d, camera=c))
        return r

    return run, depth, cam


def test_five_people_torso_positions_from_depth(five_people):
    run, depth, cam = five_people
    r = run(depth)
    assert len(r.tracks) == 5, [t.box for t in r.tracks]
    p3 = r.tracks_3d
    assert 'depth' in r.timings_ms and list(p3.source) == [SOURCE_DEPTH] * 5
    for i, t in enumerate(r.tracks):
        truth = central_median(depth, t.box)
        assert 1.7 < truth < 2.9
        assert abs(p3.positions[i, 2] - truth) < 0.15, (t.box, p3.positions[i], truth)
        # the same image again: at rest up to the pose's own frame-to-frame change (exact zero in
        # the synthetic velocity test)
        assert np.isfinite(p3.velocities[i]).all() and np.linalg.norm(p3.velocities[i]) < 0.5
    left_to_right = np.argsort([(t.box[0] + t.box[2]) / 2 for t in r.tracks])
    assert np.all(np.diff(p3.positions[left_to_right, 0]) > 0)
    # every 3D keypoint reprojects onto its 2D keypoint and lies at the person's depth
    for i, t in enumerate(r.tracks):
        has = p3.scores[i] > 0
        assert has.sum() >= 10
        np.testing.assert_allclose(cam.project(p3.keypoints[i][has]), t.keypoints[has], atol=0.05)
        assert np.all(np.abs(p3.keypoints[i][has, 2] - central_median(depth, t.box)) < 0.5)
        assert np.all(p3.scores[i][has] <= t.keypoint_scores[has] + 1e-6)


def test_five_people_keypoints_without_valid_depth_score_zero(five_people):
    run, depth, cam = five_people
    d = depth.copy()
    d[:200] = np.nan  # no depth in the upper part of the image
    r = run(d)
    p3 = r.tracks_3d
    n_low = 0
    for i, t in enumerate(r.tracks):
        high = t.keypoints[:, 1] < 200 - 25  # whole window without depth
        assert (p3.scores[i][high] == 0).all() and np.isnan(p3.keypoints[i][high]).all()
        low = (t.keypoints[:, 1] > 230) & (t.keypoint_scores > 0.5)
        n_low += int((p3.scores[i][low] > 0).sum())
        if p3.source[i] == SOURCE_DEPTH:  # hips still measured: positions from depth
            assert abs(p3.positions[i, 2] - central_median(depth, t.box)) < 0.15
    assert n_low >= 20


def test_five_people_monocular_within_15_percent(five_people):
    run, depth, cam = five_people
    r = run(None)
    p3 = r.tracks_3d
    if r.poses.keypoints_3d is None:
        pytest.skip('pose backend without world landmarks')
    assert list(p3.source) == [SOURCE_MONOCULAR] * 5
    for i, t in enumerate(r.tracks):
        truth = central_median(depth, t.box)
        assert abs(p3.positions[i, 2] - truth) / truth < 0.15, (t.box, p3.positions[i], truth)
        assert np.all(p3.scores[i] <= 0.5 * t.keypoint_scores + 1e-6)
