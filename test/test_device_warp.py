"""Crops sampled on the model's device (the CUDA path) equal OpenCV's warpAffine crops.

The pose backends give the same keypoints either way. Runs on the CPU: the sampling code is the
same on CUDA.
"""

import cv2
import numpy as np
import pytest

from poseflow_ros.pose import crop


@pytest.fixture(scope='module')
def photo(images_dir):
    return cv2.imread(str(images_dir / 'friends_03.jpg'))


def test_device_warp_equals_warp_affine(photo):
    boxes = np.array(
        [
            [10, 20, 200, 400],
            [300, 50, 420, 300],
            [-30, -10, 100, 200],  # partly outside
            [500, 300, 700, 500],
        ],
        np.float32,
    )
    for out_wh, aspect in (((192, 256), 0.75), ((256, 256), 1.0)):
        c, s = crop.box_to_center_scale(boxes, aspect, 1.25)
        m = crop.affine_matrices(c, s, out_wh)
        ref = crop.warp_crops(photo, m, out_wh).astype(np.float32)
        got = crop.DeviceWarper('cpu').warp(photo, m, out_wh).permute(0, 2, 3, 1).numpy()
        assert got.shape == ref.shape
        diff = np.abs(got - ref)
        assert diff.mean() < 0.5  # OpenCV quantises sample positions to 1/32 px
        assert diff.max() < 8
        # the zero border outside the image is the same
        assert np.array_equal(got[2, :5, :5] == 0, ref[2, :5, :5] == 0)


REFINED = {'crop_mode': 'refine', 'refine_passes': 1, 'border': 'replicate'}


@pytest.mark.parametrize(
    'crop_kw,tol',
    [({}, (0.01, 0.1, 0.03)), (REFINED, (0.06, 0.2, 0.1))],
    ids=['box', 'rotated-refine-replicate'],
)
def test_blazepose_device_warp_same_keypoints(detector, images_dir, crop_kw, tol):
    """Box crops, and rotated alignment-ROI crops with a replicated border (the pipeline default).

    A second pass starts from the first pass's landmarks, so the few-grey-level crop differences
    compound: measured at most 4.8 % of the person's height for one keypoint (three.jpg), median
    0.4 %.
    """
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    host = BlazePoseEstimator(runtime='torch', **crop_kw)
    dev = BlazePoseEstimator(runtime='torch', device_warp=True, **crop_kw)
    assert dev.warper is not None and host.warper is None
    for name in ('three.jpg', 'children.jpg', 'friends_03.jpg'):
        img = cv2.imread(str(images_dir / name))
        boxes = detector.detect(img).boxes
        a, b = host.estimate(img, boxes), dev.estimate(img, boxes)
        vis = a.scores > 0.5
        assert vis.sum() >= 17
        err = np.linalg.norm(a.keypoints - b.keypoints, axis=-1)[vis]
        box_h = np.repeat((boxes[:, 3] - boxes[:, 1])[:, None], 17, 1)[vis]
        assert (err / box_h).max() < tol[0]  # box crops: < 1 % of the person's height
        assert np.median(err / box_h) < 0.005
        assert np.abs(a.scores - b.scores).max() < tol[1]
        w_err = np.abs(a.keypoints_3d - b.keypoints_3d)[vis]  # metres, visible keypoints
        assert np.median(w_err) < 0.01 and w_err.max() < tol[2], (np.median(w_err), w_err.max())
        np.testing.assert_allclose(a.rois[:, 4], b.rois[:, 4])
    assert dev.last_crop_ms > 0


def test_device_warp_needs_torch_runtime():
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    with pytest.raises(ValueError, match='pose_runtime=torch'):
        BlazePoseEstimator(runtime='onnxruntime', device_warp=True)


def test_pipeline_reports_crop_stage(detector, images_dir):
    """The pipeline's 'crop' stage is the backend's last_crop_ms, 'pose' the rest of estimate()."""
    import time

    from poseflow_ros.pipeline import PosePipeline
    from poseflow_ros.pose import PoseEstimator
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator
    from poseflow_ros.track import Tracker
    from poseflow_ros.types import Detections, Frame, Poses

    img = cv2.imread(str(images_dir / 'three.jpg'))
    pipe = PosePipeline(detector, BlazePoseEstimator(), Tracker())
    r = pipe.process(Frame(img, 0.0, 'cam', 0))
    assert set(r.timings_ms) >= {'detect', 'crop', 'pose', 'track'}
    assert len(r.detections) and r.timings_ms['crop'] == pipe.pose.last_crop_ms > 0
    assert r.timings_ms['pose'] > 0  # the forward itself, without the crops

    class Timed(PoseEstimator):  # known times: 7 ms of crops within an estimate of >= 30 ms
        def estimate(self, image_bgr, boxes):
            time.sleep(0.03)  # sleeps at least this long
            self.last_crop_ms = 7.0
            n = len(boxes)
            return Poses(np.zeros((n, 17, 2), np.float32), np.zeros((n, 17), np.float32))

    pipe = PosePipeline(detector, Timed(), Tracker())
    boxes = Detections(np.array([[10, 10, 110, 210]], np.float32), np.array([0.9], np.float32))
    r = pipe.process(Frame(img, 0.0, 'cam', 0), boxes, detect_ms=1.0)
    assert r.timings_ms['crop'] == 7.0 and r.timings_ms['pose'] >= 30.0 - 7.0
    assert r.timings_ms['detect'] == 1.0
    r = pipe.process(Frame(img, 0.1, 'cam', 1), Detections.empty(), detect_ms=1.0)
    assert r.timings_ms['crop'] == 0.0  # nobody: no pose call, no crop time
