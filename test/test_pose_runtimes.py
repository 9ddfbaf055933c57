"""BlazePose CPU runtimes: OpenVINO against onnxruntime, 'auto', settings reaching the backend.

OpenVINO must give onnxruntime's landmarks on real crops; pose_runtime and num_threads must reach
the backend.
"""

import cv2
import numpy as np
import pytest

from poseflow_ros.pose import crop
from poseflow_ros.pose.blazepose_torch import cpu_has_bf16

pytest.importorskip('onnx')
pytest.importorskip('openvino')


@pytest.fixture(scope='module')
def ort_est(model_file):
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    return BlazePoseEstimator(model_path=str(model_file), runtime='onnxruntime')


@pytest.fixture(scope='module')
def ov_est(model_file):
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    return BlazePoseEstimator(model_path=str(model_file), runtime='openvino', num_threads=1)


@pytest.fixture(scope='module')
def real_crops(ort_est, detector, images_dir):
    """256x256 RGB crops of the people detected in three shared photos."""
    out = []
    for name in ('couple.jpg', 'three.jpg', 'friends_01.jpg'):
        img = cv2.imread(str(images_dir / name))
        d = detector.detect(img)
        m = ort_est.crop_matrices(d.boxes[d.scores >= 0.45])
        out.append(crop.warp_crops(img, m, (256, 256))[..., ::-1])
    c = np.ascontiguousarray(np.concatenate(out))
    assert len(c) >= 6
    return c


def test_openvino_matches_onnxruntime_on_real_crops(ort_est, ov_est, real_crops):
    """FP32 on both: measured 0.006 crop px, 2e-5 flag and 1.5e-5 m world at most."""
    assert ov_est.runtime == 'openvino' and ov_est._ort is None
    lm_a, flag_a, world_a = ort_est.forward_crops(real_crops)
    lm_b, flag_b, world_b = ov_est.forward_crops(real_crops)
    assert lm_b.shape == lm_a.shape and flag_b.shape == flag_a.shape
    assert np.abs(lm_b[:, :33, :2] - lm_a[:, :33, :2]).max() < 0.05  # 256-px crop
    np.testing.assert_allclose(lm_b[:, :33, 3], lm_a[:, :33, 3], atol=1e-2)  # visibility logits
    np.testing.assert_allclose(flag_b, flag_a, atol=1e-3)
    assert np.abs(world_b - world_a).max() < 1e-3
    assert (flag_a > 0.5).sum() >= len(real_crops) - 2  # real people: not a trivial comparison


def test_openvino_results_survive_the_next_batch(ov_est, real_crops):
    """The infer request reuses its output buffers: a result must be a copy; batch sizes vary."""
    first = ov_est.forward_crops(real_crops[:3])
    kept = [x.copy() for x in first]
    ov_est.forward_crops(real_crops[3:4])  # another batch size, other people
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)


def test_openvino_estimate_matches_onnxruntime(ort_est, ov_est, detector, images_dir):
    """The whole estimate (box crop, refinement, COCO mapping) agrees, not only the forward."""
    img = cv2.imread(str(images_dir / 'three.jpg'))
    boxes = detector.detect(img).boxes
    a, b = ort_est.estimate(img, boxes), ov_est.estimate(img, boxes)
    assert len(a.keypoints) == len(boxes) >= 2
    assert np.abs(a.keypoints - b.keypoints).max() < 0.5  # image px
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-2)


def test_num_threads_reaches_the_backends(ov_est, model_file):
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    compiled = ov_est._ov.get_compiled_model()
    assert int(compiled.get_property('INFERENCE_NUM_THREADS')) == 1
    assert str(compiled.get_property('INFERENCE_PRECISION_HINT')) in ('f32', '<Type: \'float32\'>')
    est = BlazePoseEstimator(model_path=str(model_file), runtime='onnxruntime', num_threads=1)
    assert est._ort.get_session_options().intra_op_num_threads == 1


def test_auto_runtime_stays_onnxruntime(monkeypatch, model_file):
    """OpenVINO is installed here, but 'auto' keeps onnxruntime (it loses on a loaded CPU)."""
    from poseflow_ros.pose import blazepose_torch as bt

    assert bt.auto_runtime('cpu') == 'onnxruntime'
    assert bt.auto_runtime('cuda') == 'torch'
    assert bt.BlazePoseEstimator(model_path=str(model_file)).runtime == 'onnxruntime'
    monkeypatch.setattr(bt, '_has_onnx', lambda: False)
    assert bt.auto_runtime('cpu') == 'torch'


def test_pipeline_setting_reaches_the_estimator(model_file):
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline

    pipe = PosePipeline.from_config(
        PipelineConfig(device='cpu', pose_runtime='openvino', num_threads=1)
    )
    assert pipe.pose.runtime == 'openvino' and pipe.pose._ov is not None
    with pytest.raises(ValueError, match='pose_runtime'):
        PipelineConfig(device='cpu', pose_runtime='int8')


def test_openvino_missing_names_the_fix(monkeypatch, model_file):
    """Without the openvino package, pose_runtime=openvino fails at start-up saying what to do."""
    import sys

    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    monkeypatch.setitem(sys.modules, 'openvino', None)  # import openvino now raises ImportError
    with pytest.raises(
        ImportError, match=r"needs the 'openvino' package.*pose_runtime:=onnxruntime"
    ):
        BlazePoseEstimator(model_path=str(model_file), runtime='openvino')


@pytest.mark.skipif(not cpu_has_bf16(), reason='this CPU has no bf16 units')
def test_bf16_runs_openvino_in_bfloat16_near_fp32(ort_est, model_file, real_crops):
    """pose_precision bf16: 'auto' becomes openvino compiled in bf16; landmarks near fp32's.

    Measured on the shared photos' crops: a median of about 1 crop px off fp32 (the walk video's
    crops: 0.95 px median, p95 7 px). The bounds fail if the hint did not reach OpenVINO (then the
    difference would be fp32's 0.006 px) and if bf16 broke the model (tens of px).
    """
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    est = BlazePoseEstimator(model_path=str(model_file), precision='bf16', num_threads=1)
    assert est.runtime == 'openvino' and est._ort is None
    hint = est._ov.get_compiled_model().get_property('INFERENCE_PRECISION_HINT')
    assert 'bf' in str(hint).lower()
    lm_a, flag_a, _ = ort_est.forward_crops(real_crops)
    lm_b, flag_b, _ = est.forward_crops(real_crops)
    sure = (flag_a > 0.5) & (flag_b > 0.5)
    assert sure.sum() >= len(real_crops) - 2
    d = np.linalg.norm(lm_b[sure, :33, :2] - lm_a[sure, :33, :2], axis=-1)
    assert 0.05 < np.median(d) < 4.0, np.median(d)  # 256-px crop


def test_bf16_without_cpu_support_names_the_fix(monkeypatch, model_file):
    """A CPU without bf16 units: a start-up error, not OpenVINO's silent fall-back to f32."""
    import openvino as ov

    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    real = ov.Core.get_property

    def caps(self, device, name):
        if name == 'OPTIMIZATION_CAPABILITIES':
            return ['FP32', 'INT8', 'BIN', 'EXPORT_IMPORT']
        return real(self, device, name)

    monkeypatch.setattr(ov.Core, 'get_property', caps)
    with pytest.raises(RuntimeError, match=r'bfloat16 units.*pose_precision:=fp32'):
        BlazePoseEstimator(model_path=str(model_file), precision='bf16')


def test_bf16_settings_are_checked_at_start_up(monkeypatch, model_file):
    import torch

    from poseflow_ros.pipeline import PipelineConfig
    from poseflow_ros.pose import make_pose_estimator
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    with pytest.raises(ValueError, match=r'OpenVINO, not onnxruntime.*pose_runtime:=openvino'):
        BlazePoseEstimator(model_path=str(model_file), runtime='onnxruntime', precision='bf16')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # as on a GPU machine
    with pytest.raises(ValueError, match='use fp16 on CUDA'):
        BlazePoseEstimator(model_path=str(model_file), device='cuda', precision='bf16')
    with pytest.raises(ValueError, match='pose_precision'):
        PipelineConfig(device='cpu', pose_precision='int8')
    with pytest.raises(ValueError, match='pose_precision:=fp32'):
        make_pose_estimator('mmpose', precision='bf16', mmpose_config='x', mmpose_checkpoint='y')
    assert PipelineConfig().pose_precision == 'auto'
    # 'auto' is fp32 for MMPose: no error (its own checks then ask for the config)
    with pytest.raises(ValueError, match='mmpose_config'):
        make_pose_estimator('mmpose', precision='auto')


def test_auto_precision_is_bf16_only_where_it_runs(monkeypatch, model_file):
    """pose_precision 'auto': bf16 on a bf16 CPU with OpenVINO allowed, fp32 everywhere else."""
    from poseflow_ros.pose import blazepose_torch as bt

    monkeypatch.setattr(bt, 'cpu_has_bf16', lambda: True)
    assert bt.auto_precision('cpu', 'auto') == 'bf16'
    assert bt.auto_precision('cpu', 'openvino') == 'bf16'
    assert bt.auto_precision('cpu', 'onnxruntime') == 'fp32'  # chosen by the user: kept
    assert bt.auto_precision('cpu', 'torch') == 'fp32'
    assert bt.auto_precision('cuda', 'auto') == 'fp32'
    # an explicit runtime is never overridden, and the estimator reports what it resolved
    est = bt.BlazePoseEstimator(
        model_path=str(model_file), runtime='onnxruntime', precision='auto'
    )
    assert (est.runtime, est.precision) == ('onnxruntime', 'fp32')
    monkeypatch.setattr(bt, 'cpu_has_bf16', lambda: False)  # an older CPU, or no openvino
    assert bt.auto_precision('cpu', 'auto') == 'fp32'
    est = bt.BlazePoseEstimator(model_path=str(model_file), precision='auto')
    assert (est.runtime, est.precision) == (bt.auto_runtime('cpu'), 'fp32')


@pytest.mark.skipif(not cpu_has_bf16(), reason='this CPU has no bf16 units')
def test_auto_precision_picks_bf16_on_this_cpu(model_file):
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    est = BlazePoseEstimator(model_path=str(model_file), precision='auto')
    assert (est.runtime, est.precision) == ('openvino', 'bf16')
    hint = est._ov.get_compiled_model().get_property('INFERENCE_PRECISION_HINT')
    assert 'bf' in str(hint).lower()
