"""MMPose backend vs mmpose.apis.inference_topdown on the same config, weights and boxes.

On a real photo.

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
    img = cv2.imread(str(images_dir / 'three.jpg'))  # 3 people (checked by eye)
    d = detector.detect(img)
    boxes = d.boxes[d.scores >= 0.45]
    assert len(boxes) == 3
    return img, boxes


def _reference(model, img, boxes):
    res = inference_topdown(model, img, boxes, bbox_format='xyxy')
    return (
        np.stack([r.pred_instances.keypoints[0] for r in res]),
        np.stack([r.pred_instances.keypoint_scores[0] for r in res]),
    )


@pytest.mark.parametrize('name,flip', [(RTM_T, False), (RTM_T, True), (HRNET, False)])
def test_matches_inference_topdown(ckpts, photo_and_boxes, name, flip):
    img, boxes = photo_and_boxes
    est = MMPoseEstimator(name, str(ckpts[name]), flip_test=flip)
    ours = est.estimate(img, boxes)  # one batched forward
    ref_kp, ref_sc = _reference(est.model, img, boxes)  # MMPose's per-box pipeline, same model
    assert np.abs(ours.keypoints - ref_kp).max() < 0.5
    # batch of 3 vs 1 may pick other kernels (5e-4 apart on a 16-core AVX-512 CPU, scores ~9)
    np.testing.assert_allclose(est.last_raw_scores, ref_sc, rtol=1e-4, atol=1e-4)
    assert ours.scores.min() >= 0 and ours.scores.max() <= 1
    assert ours.keypoints.shape == (3, 17, 2)


def test_sha256_checked(ckpts):
    good = models.sha256_of(ckpts[RTM_T])
    MMPoseEstimator(RTM_T, str(ckpts[RTM_T]), checkpoint_sha256=good)
    with pytest.raises(models.ModelError, match='sha256 mismatch'):
        MMPoseEstimator(RTM_T, str(ckpts[RTM_T]), checkpoint_sha256='0' * 64)


def test_missing_checkpoint_names_the_official_download(tmp_path):
    with pytest.raises(
        models.ModelError, match=r'download\.openmmlab\.com/.*rtmpose-tiny.*e613ba3f'
    ):
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
    """The CUDA crop path run on the CPU gives the OpenCV crops' keypoints.

    Crops sampled on the device, normalised by MMPose's data_preprocessor: same keypoints as the
    OpenCV crops for the visible joints of the three people.
    """
    img, boxes = photo_and_boxes
    host = MMPoseEstimator(HRNET, str(ckpts[HRNET]))
    dev = MMPoseEstimator(HRNET, str(ckpts[HRNET]), device_warp=True)
    assert dev.warper is not None and host.warper is None
    a, b = host.estimate(img, boxes), dev.estimate(img, boxes)
    np.testing.assert_allclose(dev.last_raw_scores, host.last_raw_scores, atol=0.05)
    same = np.linalg.norm(a.keypoints - b.keypoints, axis=-1) < 0.5
    assert same.mean() > 0.9


@pytest.mark.parametrize('name', [RTM_T, HRNET])
def test_fast_path_equals_head_predict(ckpts, photo_and_boxes, name):
    """The torch decode of the fast path gives what the head's own predict/decode gives.

    Normalise + forward + decode on the device, used on CUDA with CUDA graphs; on the same crops.
    """
    img, boxes = photo_and_boxes
    fast = MMPoseEstimator(name, str(ckpts[name]))
    slow = MMPoseEstimator(name, str(ckpts[name]), fast_path=False)
    assert fast.graphed_forward is not None and slow.graphed_forward is None
    a, b = fast.estimate(img, boxes), slow.estimate(img, boxes)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    # float32 sums in another order: 2.7e-5 on SimCC maxima of ~9 (3.6e-6 relative) on one CPU
    np.testing.assert_allclose(fast.last_raw_scores, slow.last_raw_scores, rtol=1e-5, atol=1e-5)


def test_fast_path_decoders_edge_cases():
    """Non-positive maxima give location -1 (as MMPose); a quarter-pixel shift, none at the border.

    The heatmap shift is a quarter pixel towards the higher neighbour and none at the border
    (MMPose's bounds).
    """
    from mmpose.codecs.utils import get_heatmap_maximum, refine_keypoints
    from poseflow_ros.pose.mmpose_backend import _torch_decoder

    dec = _torch_decoder(
        {'type': 'MSRAHeatmap', 'input_size': (192, 256), 'heatmap_size': (48, 64)}
    )
    rng = np.random.default_rng(0)
    hm = rng.normal(size=(2, 17, 64, 48)).astype(np.float32)
    hm[0, 0] = -1.0  # all negative -> -1
    hm[0, 1, 10, 0] = 50.0  # maximum on the left border: no x shift
    hm[1, 2, 63, 20] = 50.0  # bottom border: no y shift
    kp, sc = dec(torch.from_numpy(hm))
    for n in range(2):
        ref_kp, ref_sc = get_heatmap_maximum(hm[n])
        ref_kp = refine_keypoints(ref_kp[None], hm[n])[0] * np.array([192 / 48, 256 / 64])
        np.testing.assert_allclose(kp[n].numpy(), ref_kp, atol=1e-5)
        np.testing.assert_allclose(sc[n].numpy(), ref_sc)
    assert (kp[0, 0].numpy() == [-4.0, -4.0]).all()
    dec = _torch_decoder({'type': 'SimCCLabel', 'simcc_split_ratio': 2.0})
    sx, sy = torch.randn(2, 17, 384), torch.randn(2, 17, 512)
    sx[1, 3] = -1.0
    kp, sc = dec((sx, sy))
    from mmpose.codecs.utils import get_simcc_maximum

    ref_kp, ref_sc = get_simcc_maximum(sx.numpy(), sy.numpy())
    np.testing.assert_allclose(kp.numpy(), ref_kp / 2.0)
    np.testing.assert_allclose(sc.numpy(), ref_sc)
    assert _torch_decoder({'type': 'SimCCLabel', 'use_dark': True}) is None
    assert _torch_decoder({'type': 'RegressionLabel'}) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
@pytest.mark.parametrize('name', [RTM_T, HRNET])
def test_cuda_graph_matches_inference_topdown(ckpts, photo_and_boxes, name):
    """On CUDA: device crops + torch decode from CUDA graphs vs MMPose's own per-box loop.

    Same model on the GPU: keypoints within 0.5 px; with FP16 most joints within 2 px of FP32.
    """
    img, boxes = photo_and_boxes
    est = MMPoseEstimator(name, str(ckpts[name]), device='cuda', cuda_graph=True)
    ours = est.estimate(img, boxes)
    ours = est.estimate(img, boxes)  # second call: replayed
    assert est.graphed_forward.captured >= 1 and not est.graphed_forward.failed
    ref_kp, ref_sc = _reference(est.model, img, boxes)
    assert np.abs(ours.keypoints - ref_kp).max() < 0.5
    # PyTorch's default TF32 convolutions on CUDA, batched vs one box: 2.8e-3 apart on an H100
    # (scores ~9)
    np.testing.assert_allclose(est.last_raw_scores, ref_sc, rtol=1e-3, atol=1e-3)
    half = MMPoseEstimator(name, str(ckpts[name]), device='cuda', cuda_graph=True, fp16=True)
    h = half.estimate(img, boxes)
    d = np.linalg.norm(h.keypoints - ours.keypoints, axis=-1)
    # random weights give flat score maps, where FP16 rounding can move an argmax: most joints stay
    # put
    assert (d < 2.0).mean() >= 0.8, f'FP16 vs FP32: {np.round(d, 2).tolist()}'
