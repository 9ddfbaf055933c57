"""ONNX graph passes (:mod:`poseflow_ros.pose.onnx_passes`): same numbers, fewer Pad nodes.

Small graphs check each folding rule and each case that must stay unfolded; the real BlazePose
export checks that every Pad goes and that the landmarks on real crops stay bit for bit the same.
"""

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from poseflow_ros.pose import crop, onnx_passes


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # as written
    s = ort.InferenceSession(model.SerializeToString(), so, providers=['CPUExecutionProvider'])
    return s.run(None, {'x': x})[0]


def _graph(pads, value, consumer, channels=4, extra_reader=None):
    """Build x (1,C,9,10) -> Pad(pads, value) -> consumer ('conv' 3x3 stride 2 / 'maxpool' 2x2)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.asarray(pads, np.int64), 'pads')]
    pad_inputs = ['x', 'pads']
    if value is not None:
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), 'value'))
        pad_inputs.append('value')
    nodes = [helper.make_node('Pad', pad_inputs, ['p'], mode='constant')]
    if consumer == 'conv':
        cin = channels + pads[1] + pads[len(pads) // 2 + 1]  # what the Pad gives the Conv
        w = rng.standard_normal((3, cin, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, 'w'))
        nodes.append(
            helper.make_node('Conv', ['p', 'w'], ['y'], strides=[2, 2], pads=[1, 0, 0, 1])
        )
    else:
        nodes.append(
            helper.make_node('MaxPool', ['p'], ['y'], kernel_shape=[2, 2], strides=[2, 2])
        )
    outputs = [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['n', 'c', 'h', 'w'])]
    if extra_reader:
        nodes.append(helper.make_node(extra_reader, ['p'], ['z']))
        outputs.append(helper.make_tensor_value_info('z', TensorProto.FLOAT, ['n', 'c', 'h', 'w']))
    g = helper.make_graph(
        nodes,
        'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, channels, 9, 10])],
        outputs,
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])


X = np.random.default_rng(1).standard_normal((1, 4, 9, 10)).astype(np.float32)


@pytest.mark.parametrize(
    'pads, value, consumer',
    [
        ([0, 0, 0, 0, 0, 0, 1, 1], None, 'conv'),  # TFLite's asymmetric SAME: extra at the end
        ([0, 0, 2, 1, 0, 0, 0, 3], 0.0, 'conv'),  # any amounts, added to the Conv's own pads
        ([0, 0, 0, 0, 0, 0, 1, 0], -np.inf, 'maxpool'),  # how MaxPool pads
    ],
)
def test_pad_folds_into_its_reader_with_the_same_result(pads, value, consumer):
    m = _graph(pads, value, consumer)
    before = _run(m, X)
    assert onnx_passes.fold_pads(m) == 1
    onnx_passes.drop_unused_initializers(m)
    onnx.checker.check_model(m)
    assert [n.op_type for n in m.graph.node] == [{'conv': 'Conv', 'maxpool': 'MaxPool'}[consumer]]
    assert {i.name for i in m.graph.initializer} <= {'w'}
    np.testing.assert_array_equal(_run(m, X), before)


@pytest.mark.parametrize(
    'pads, value, consumer, extra',
    [
        ([0, 1, 0, 0, 0, 1, 0, 0], 0.0, 'conv', None),  # channel padding: not a Conv pad
        ([0, 0, 1, 1, 0, 0, 1, 1], 1.0, 'conv', None),  # non-zero value
        ([0, 0, 1, 1, 0, 0, 1, 1], 0.0, 'maxpool', None),  # MaxPool pads with -inf, not 0
        ([0, 0, -1, 0, 0, 0, 0, 0], None, 'conv', None),  # a crop, not a pad
        ([0, 0, 1, 1, 0, 0, 1, 1], None, 'conv', 'Relu'),  # another reader needs the padded values
    ],
)
def test_pad_that_cannot_fold_stays(pads, value, consumer, extra):
    m = _graph(pads, value, consumer, extra_reader=extra)
    before = _run(m, X)
    assert onnx_passes.fold_pads(m) == 0
    assert [n.op_type for n in m.graph.node][0] == 'Pad'
    np.testing.assert_array_equal(_run(m, X), before)


def test_blazepose_export_loses_every_pad_and_keeps_its_numbers(model_file, detector, images_dir):
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    est = BlazePoseEstimator(model_path=str(model_file), runtime='onnxruntime')
    optimised = est._onnx_export(est.model_path)
    est.set_onnx_passes(False)
    raw = est._onnx_export(est.model_path)
    assert optimised != raw and optimised.is_file()
    ops = lambda p: [n.op_type for n in onnx.load(str(p)).graph.node]  # noqa: E731
    assert ops(raw).count('Pad') == 7 and 'Pad' not in ops(optimised)
    assert ops(optimised).count('Conv') == ops(raw).count('Conv')

    imgs = [cv2.imread(str(images_dir / n)) for n in ('couple.jpg', 'three.jpg')]
    crops = []
    for img in imgs:
        d = detector.detect(img)
        crops.append(
            crop.warp_crops(img, est.crop_matrices(d.boxes[d.scores >= 0.45]), (256, 256))
        )
    crops = np.ascontiguousarray(np.concatenate(crops)[..., ::-1])
    assert len(crops) >= 4
    before = est.forward_crops(crops)
    est.set_onnx_passes(True)
    after = est.forward_crops(crops)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(after[0]).all() and (after[1] > 0.5).sum() >= 4  # real people, real output


def test_export_runs_as_written_when_the_passes_cannot(model_file, tmp_path, monkeypatch):
    """Without onnxruntime (OpenVINO alone), the passes are skipped with a warning, not a crash."""
    from poseflow_ros.pose import blazepose_torch as bt

    local = tmp_path / model_file.name
    local.write_bytes(model_file.read_bytes())
    est = bt.BlazePoseEstimator(model_path=str(local), runtime='torch')

    def no_ort(src, dst):
        raise ImportError('No module named onnxruntime')

    monkeypatch.setattr(bt.onnx_passes, 'optimise', no_ort)
    with pytest.warns(UserWarning, match='ONNX passes skipped'):
        path = est._onnx_export(local)
    assert path.is_file() and not path.stem.endswith('-opt')
