"""MMPose backend vs mmpose.apis.inference_topdown on the same config, weights and boxes (real photo).

Weights are random (seeded) and saved to a local checkpoint file: equivalence does not depend on
what the weights are, and no checkpoint can be downloaded here.
"""
import cv2
import numpy as np
import pytest

mmpose_compat = pytest.importorskip('poseflow_ros.pose.mmpose_compat')
pytest.importorskip('mmpose.apis', reason='MMPose stack not installed (tools/install_mmpose.sh)')

import torch  # noqa: E402
from mmpose.apis import inference_topdown, init_model  # noqa: E402

from poseflow_ros import models  # noqa: E402
from poseflow_ros.pose import make_pose_estimator  # noqa: E402
from poseflow_ros.pose.mmpose_backend import MMPoseEstimator, official_weights, resolve_config  # noqa: E402

RTM_T = 'rtmpose-t_8xb256-420e_coco-256x192'
HRNET = 'td-hm_hrnet-w32_8xb64-210e_coco-256x192'


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    out = {}
    for name in (RTM_T, HRNET):
        torch.manual_seed(0)
        m = init_model(resolve_config(name), None, device='cpu')
        p = tmp_path_factory.mktemp('ckpt') / f'{name}.pth'
        torch.save({'state_dict': m.state_dict()}, p)
        out[name] = p
    return out


@pytest.fixture(scope='module')
def photo_and_boxes(detector, images_dir):
    img = cv2.imread(str(images_dir / 'three.jpg'))            # 3 people (checked by eye)
    d = detector.detect(img)
    boxes = d.boxes[d.scores >= 0.45]
    assert len(boxes) == 3
    return img, boxes


def _reference(model, img, boxes):
    res = inference_topdown(model, img, boxes, bbox_format='xyxy')
    return (np.stack([r.pred_instances.keypoints[0] for r in res]),
            np.stack([r.pred_instances.keypoint_scores[0] for r in res]))


@pytest.mark.parametrize('name,flip', [(RTM_T, False), (RTM_T, True), (HRNET, False)])
def test_matches_inference_topdown(ckpts, photo_and_boxes, name, flip):
    img, boxes = photo_and_boxes
    est = MMPoseEstimator(name, str(ckpts[name]), flip_test=flip)
    ours = est.estimate(img, boxes)                           # one batched forward
    ref_kp, ref_sc = _reference(est.model, img, boxes)        # MMPose's per-box pipeline, same model
    assert np.abs(ours.keypoints - ref_kp).max() < 0.5
    np.testing.assert_allclose(est.last_raw_scores, ref_sc, atol=1e-4)
    assert ours.scores.min() >= 0 and ours.scores.max() <= 1
    assert ours.keypoints.shape == (3, 17, 2)


def test_sha256_checked(ckpts):
    good = models.sha256_of(ckpts[RTM_T])
    MMPoseEstimator(RTM_T, str(ckpts[RTM_T]), checkpoint_sha256=good)
    with pytest.raises(models.ModelError, match='sha256 mismatch'):
        MMPoseEstimator(RTM_T, str(ckpts[RTM_T]), checkpoint_sha256='0' * 64)


def test_missing_checkpoint_names_the_official_download(tmp_path):
    with pytest.raises(models.ModelError, match=r'download\.openmmlab\.com/.*rtmpose-tiny.*e613ba3f'):
        MMPoseEstimator(RTM_T, str(tmp_path / 'nope.pth'))
    url, prefix = official_weights(HRNET)
    assert url.endswith('-81c58e40_20220909.pth') and prefix == '81c58e40'


def test_wrong_checkpoint_for_config_is_rejected(ckpts):
    with pytest.raises(models.ModelError, match='does not fit config'):
        MMPoseEstimator(HRNET, str(ckpts[RTM_T]))


def test_factory_and_bad_config(ckpts):
    est = make_pose_estimator('mmpose', mmpose_config=RTM_T, mmpose_checkpoint=str(ckpts[RTM_T]))
    assert est.name.startswith('mmpose:rtmpose-t')
    with pytest.raises(ValueError, match='mmpose_config'):
        make_pose_estimator('mmpose')
    with pytest.raises(models.ModelError, match='neither a file nor a config'):
        MMPoseEstimator('no-such-config', str(ckpts[RTM_T]))


def test_device_warp_path(ckpts, photo_and_boxes):
    """The CUDA crop path (crops sampled on the device, normalised by MMPose's data_preprocessor) run on
    the CPU: same keypoints as the OpenCV crops for the visible joints of the three people."""
    img, boxes = photo_and_boxes
    host = MMPoseEstimator(HRNET, str(ckpts[HRNET]))
    dev = MMPoseEstimator(HRNET, str(ckpts[HRNET]), device_warp=True)
    assert dev.warper is not None and host.warper is None
    a, b = host.estimate(img, boxes), dev.estimate(img, boxes)
    np.testing.assert_allclose(dev.last_raw_scores, host.last_raw_scores, atol=0.05)
    same = np.linalg.norm(a.keypoints - b.keypoints, axis=-1) < 0.5
    assert same.mean() > 0.9
