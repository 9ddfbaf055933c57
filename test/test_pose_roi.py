"""Tests of the BlazePose alignment ROIs (poseflow_ros.pose.roi).

ROI geometry, rotated crops, per-person fallback to the box, the ROI memory the pipeline carries
between frames, and the crop modes end to end on real photos.
"""

import cv2
import numpy as np
import pytest

from poseflow_ros.geometry import iou_matrix
from poseflow_ros.pose import crop, roi


def _landmarks(hip, extent):
    pts = np.zeros((len(hip), 39, 2), np.float32)
    pts[:, roi.HIP_CENTRE] = hip
    pts[:, roi.BODY_EXTENT] = extent
    return pts


def test_alignment_roi_centre_side_rotation():
    hip = np.array([[100, 200], [100, 200], [100, 200], [100, 200]], np.float32)
    # up, right, left, down
    ext = np.array([[100, 120], [180, 200], [20, 200], [100, 280]], np.float32)
    r = roi.alignment_rois(_landmarks(hip, ext))
    np.testing.assert_allclose(r[:, :2], hip)
    np.testing.assert_allclose(r[:, 2], 2 * 80 * 1.25)
    np.testing.assert_allclose(r[:, 3], [0, np.pi / 2, -np.pi / 2, -np.pi], atol=1e-6)
    # in the crop, 33 -> 34 always points straight up: 34 lands above the centre at 1/(2*1.25) of
    # the side
    m = crop.roi_matrices(r, (256, 256))
    got = crop.transform_points(ext[:, None], m)[:, 0]
    np.testing.assert_allclose(got, [[128, 128 - 256 / 2.5]] * 4, atol=1e-3)


def test_roi_matrices_round_trip_and_upright_case():
    rng = np.random.default_rng(1)
    rois = np.stack(
        [
            rng.uniform(0, 600, 6),
            rng.uniform(0, 400, 6),
            rng.uniform(30, 500, 6),
            rng.uniform(-np.pi, np.pi, 6),
        ],
        1,
    ).astype(np.float32)
    m = crop.roi_matrices(rois, (256, 256))
    pts = rng.uniform(-100, 700, (6, 20, 2)).astype(np.float32)
    back = crop.transform_points(crop.transform_points(pts, m), crop.invert_affine(m))
    np.testing.assert_allclose(back, pts, atol=1e-2)
    # the ROI's corners are the crop's corners, in order
    corners = roi.roi_corners(rois)
    np.testing.assert_allclose(
        crop.transform_points(corners, m),
        np.tile([[0, 0], [256, 0], [256, 256], [0, 256]], (6, 1, 1)),
        atol=1e-2,
    )
    # rotation 0 is exactly the upright box crop
    boxes = np.array([[10, 20, 110, 220], [300, 50, 360, 90]], np.float32)
    c, s = crop.box_to_center_scale(boxes, 1.0, 1.25)
    # float32 rois
    np.testing.assert_allclose(
        crop.roi_matrices(crop.boxes_to_rois(boxes), (256, 256)),
        crop.affine_matrices(c, s, (256, 256)),
        atol=1e-4,
    )


def test_rotated_warp_straightens_a_tilted_bar_and_points_rotate_back():
    """A bar drawn at 30 degrees clockwise from vertical.

    The crop turned by +30 degrees shows it upright.
    """
    img = np.zeros((400, 400, 3), np.uint8)
    theta = np.deg2rad(30)
    up = np.array([np.sin(theta), -np.cos(theta)])  # the bar's direction (image y down)
    a, b = (
        (np.array([200, 200]) - 120 * up).astype(int),
        (np.array([200, 200]) + 120 * up).astype(int),
    )
    cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (255, 255, 255), 9)
    r = np.array([[200, 200, 300, theta]], np.float32)
    w = crop.warp_crops(img, crop.roi_matrices(r, (256, 256)), (256, 256))[0, :, :, 0]
    ys, xs = np.nonzero(w > 128)
    assert np.ptp(xs) < 15 and np.ptp(ys) > 180  # vertical in the crop
    upright = crop.warp_crops(img, crop.roi_matrices(r * [1, 1, 1, 0], (256, 256)), (256, 256))[
        0, :, :, 0
    ]
    assert np.ptp(np.nonzero(upright > 128)[1]) > 80  # without the rotation it is tilted
    # a crop-aligned vector "up" becomes the bar direction in the image after rotate_points
    v = crop.rotate_points(np.array([[[0.0, -1.0, 0.5]]]), np.array([theta]))[0, 0]
    np.testing.assert_allclose(v[:2], up, atol=1e-6)
    assert v[2] == pytest.approx(0.5)


def test_device_warp_rotated_and_replicate_equal_opencv():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (7, 7), 0)
    rois = np.array([[160, 120, 200, 0.7], [20, 30, 150, -2.0], [300, 200, 260, 3.0]], np.float32)
    m = crop.roi_matrices(rois, (128, 128))
    for border in ('zero', 'replicate'):
        ref = crop.warp_crops(img, m, (128, 128), border=border).astype(np.float32)
        got = (
            crop.DeviceWarper('cpu')
            .warp(img, m, (128, 128), border=border)
            .permute(0, 2, 3, 1)
            .numpy()
        )
        diff = np.abs(got - ref)
        assert diff.mean() < 0.5 and np.percentile(diff, 99.9) < 8, (border, diff.mean())
    with pytest.raises(ValueError, match='border'):
        crop.warp_crops(img, m, (128, 128), border='mirror')


def test_reliable_falls_back_per_person():
    boxes = np.tile(np.array([[100, 100, 200, 300]], np.float32), (6, 1))
    good = np.array([150, 200, 260, 0.1], np.float32)  # hip-centred, ~1.3x the box height
    rois = np.tile(good, (6, 1))
    flag = np.full(6, 0.99, np.float32)
    hips = np.full((6, 2), 0.95, np.float32)
    flag[1] = 0.2  # the model sees no person
    hips[2] = [0.1, 0.3]  # both hips out of view
    rois[3, 2] = 60  # far too small for the box
    rois[4, :2] = [400, 500]  # somewhere else: box not covered
    rois[5, 3] = np.nan
    ok = roi.reliable(rois, boxes, flag, hips)
    assert ok.tolist() == [True, False, False, False, False, False]
    # without the flag check the low-flag person's geometry is fine (used for a second pass)
    assert roi.reliable(rois, boxes, None, hips).tolist() == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    np.testing.assert_allclose(roi.box_cover(rois[[0, 4]], boxes[[0, 4]]), [1.0, 0.0])


def test_roi_memory_matches_by_box_and_falls_back():
    mem = roi.RoiMemory()
    b0 = np.array([[100, 100, 200, 300], [300, 100, 380, 260], [500, 50, 560, 150]], np.float32)
    r0 = np.array(
        [[150, 200, 260, 0.1, 1], [340, 180, 210, -0.1, 1], [530, 100, 130, 0.0, 0]], np.float32
    )
    assert (mem.prior(b0)[:, 4] == 0).all()  # nothing remembered yet
    mem.update(b0, r0)
    # next frame: the boxes moved a little and came in another order, one new person far away
    b1 = np.array(
        [[305, 104, 385, 262], [900, 100, 950, 200], [104, 102, 204, 302], [500, 52, 560, 152]],
        np.float32,
    )
    p = mem.prior(b1)
    np.testing.assert_allclose(p[0], r0[1])
    np.testing.assert_allclose(p[2], r0[0])
    assert p[1, 4] == 0  # new person: box crop
    assert p[3, 4] == 0  # matched, but its ROI was not valid
    # a box that overlaps the old one but reaches much further down (someone else, closer): the old
    # ROI does not cover it, so it falls back to the box
    big = np.array([[100, 150, 200, 520]], np.float32)
    assert iou_matrix(big, b0[:1])[0, 0] > 0.3
    assert mem.prior(big)[0, 4] == 0
    # one old ROI goes to one new box only
    two = np.array([[100, 100, 200, 300], [102, 101, 202, 301]], np.float32)
    assert (mem.prior(two)[:, 4] > 0).sum() == 1
    # no ROIs (another backend) = forget
    mem.remember(b0, type('P', (), {'rois': r0})())
    assert (mem.prior(b0)[:, 4] > 0).tolist() == [True, True, False]
    mem.update(b0, None)
    assert (mem.prior(b0)[:, 4] == 0).all()


@pytest.fixture(scope='module')
def estimator():
    from poseflow_ros import models
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    try:
        models.fetch('blazepose_full')
    except Exception as e:  # noqa: BLE001
        pytest.skip(f'BlazePose weights unavailable: {e}')
    return BlazePoseEstimator(
        runtime='onnxruntime', crop_mode='refine', refine_passes=1, border='replicate'
    )


def test_estimator_rois_and_prior_fallback(estimator, detector, images_dir):
    img = cv2.imread(str(images_dir / 'couple.jpg'))
    d = detector.detect(img)
    boxes = d.boxes[d.scores >= 0.5]
    estimator.set_crop('box', border='replicate')
    base = estimator.estimate(img, boxes)
    assert estimator.last_passes == 1
    assert base.rois.shape == (len(boxes), 5) and (base.rois[:, 4] == 1).all()
    # the ROI is hip-centred: its centre is the mean of the two hips
    hips = base.keypoints[:, [11, 12]].mean(1)
    h = boxes[:, 3] - boxes[:, 1]
    assert (np.linalg.norm(base.rois[:, :2] - hips, axis=1) < 0.05 * h).all()
    # a prior ROI on empty ground (the person is not in that crop): the box result comes back
    prior = np.zeros((len(boxes), 5), np.float32)
    prior[0] = [20, 20, 40, 0.0, 1.0]
    got = estimator.estimate(img, boxes, rois=prior)
    assert estimator.last_passes == 2  # the failed crop was redone from the box
    np.testing.assert_allclose(got.keypoints, base.keypoints, atol=1e-3)
    # the previous frame's ROI (tracking): one pass, and the skeleton agrees with the box one
    again = estimator.estimate(img, boxes, rois=base.rois)
    assert estimator.last_passes == 1
    vis = base.scores > 0.5
    err = np.linalg.norm(again.keypoints - base.keypoints, axis=-1)[vis]
    assert np.median(err) < 0.05 * h.mean()
    estimator.set_crop('refine', 1, 'replicate')
    estimator.estimate(img, boxes)
    assert estimator.last_passes == 2
    # tracking mode: person 0's crop lost it, person 1 is new: the box redo and the refinement
    # share a batch
    estimator.set_crop('temporal', 1, 'replicate')
    mixed = estimator.estimate(img, boxes, rois=prior)
    assert estimator.last_passes == 2 and estimator.last_crops == 2 * len(boxes)
    np.testing.assert_allclose(mixed.keypoints[0], base.keypoints[0], atol=1e-3)
    estimator.set_crop('refine', 1, 'replicate')
    with pytest.raises(ValueError, match='pose_crop'):
        estimator.set_crop('rotated')


def test_pipeline_temporal_mode_carries_rois(detector, images_dir):
    from poseflow_ros.pipeline import PosePipeline
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator
    from poseflow_ros.track import Tracker, TrackerConfig
    from poseflow_ros.types import Frame

    est = BlazePoseEstimator(runtime='onnxruntime', crop_mode='temporal', refine_passes=1)
    pipe = PosePipeline(detector, est, Tracker(TrackerConfig(n_init=1)))
    assert pipe.roi_memory is not None
    img = cv2.imread(str(images_dir / 'three.jpg'))
    dets = detector.detect(img)
    dets = dets.select(dets.scores >= 0.5)  # every box starts a track
    n = len(dets)
    pipe.process(Frame(img, 0.0, 'cam', 0), detections=dets)
    assert n >= 2 and est.last_passes == 2  # new people: box + one refinement
    assert (pipe.roi_memory.rois[:, 4] > 0).sum() == n
    r1 = pipe.process(Frame(img, 0.1, 'cam', 1), detections=dets)
    assert est.last_passes == 1  # tracked people: one pass on last ROI
    assert r1.poses.keypoints_3d.shape == (n, 17, 3)
    box_pipe = PosePipeline(detector, BlazePoseEstimator(runtime='onnxruntime'), Tracker())
    assert box_pipe.roi_memory is None


def test_flip_test_is_mirror_symmetric(estimator, detector, images_dir):
    """With flip_test a crop and its mirror image are averaged, so the result is mirror symmetric.

    A mirrored photo gives the mirrored skeleton with left and right swapped (up to resampling),
    and the world landmarks' x flips sign.
    """
    from poseflow_ros.coco import FLIP_PAIRS

    img = cv2.imread(str(images_dir / 'children.jpg'))
    d = detector.detect(img)
    box = d.boxes[np.argmax(d.scores)][None]
    w = img.shape[1]
    estimator.set_crop('box', border='replicate', flip_test=True)
    mirror_box = np.stack([w - 1 - box[:, 2], box[:, 1], w - 1 - box[:, 0], box[:, 3]], 1)
    try:
        a = estimator.estimate(img, box)
        b = estimator.estimate(np.ascontiguousarray(img[:, ::-1]), mirror_box)
        estimator.flip_test = False
        c = estimator.estimate(img, box)
    finally:
        estimator.set_crop('refine', 1, 'replicate')
    swap = np.arange(17)
    for i, j in FLIP_PAIRS:
        swap[i], swap[j] = j, i
    mirrored = b.keypoints[0, swap] * [-1, 1] + [w - 1, 0]
    h = box[0, 3] - box[0, 1]
    assert np.abs(mirrored - a.keypoints[0]).max() < 0.01 * h
    np.testing.assert_allclose(b.keypoints_3d[0, swap] * [-1, 1, 1], a.keypoints_3d[0], atol=0.02)
    # and it stays close to the single crop (same person, same pose)
    vis = c.scores[0] > 0.5
    assert np.median(np.linalg.norm(c.keypoints[0] - a.keypoints[0], axis=1)[vis]) < 0.03 * h


def test_crowded_keeps_box_crops_for_people_side_by_side():
    from poseflow_ros.pose.roi import crowded

    # two people 60 px apart with ROIs of side 400 centred on each: each has the other near its
    # centre (inner 0.4 of the side: within 80 px); a third 390 px away is not crowded, nor at
    # 100 px
    boxes = np.array([[100, 50, 200, 450], [160, 50, 260, 450], [560, 50, 640, 450]], np.float32)
    rois = np.array([[150, 250, 400, 0], [210, 250, 400, 0], [600, 250, 400, 0]], np.float32)
    assert crowded(rois, boxes, boxes).tolist() == [True, True, False]
    apart = boxes + np.array([[0, 0, 0, 0], [40, 0, 40, 0], [0, 0, 0, 0]], np.float32)
    assert crowded(
        rois + np.array([[0, 0, 0, 0], [40, 0, 0, 0], [0, 0, 0, 0]], np.float32), apart, apart
    ).tolist() == [False, False, False]
    # a duplicate box of the same person (IoU >= 0.7) does not count as another person
    dup = np.array([[100, 50, 200, 450], [103, 52, 203, 450]], np.float32)
    assert crowded(rois[:2], dup, dup).tolist() == [False, False]
    # a single person is never crowded
    assert crowded(rois[:1], boxes[:1], boxes[:1]).tolist() == [False]
