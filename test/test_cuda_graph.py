"""CUDA-graph replay of the batched pose forward (poseflow_ros.pose.cuda_graph).

On the CPU the runner must be a plain pass-through; the replay itself is checked against eager
execution on CUDA (skipped without a GPU; run on the lent GPU machine, see README "GPU").
"""

import numpy as np
import pytest
import torch

from poseflow_ros.pose.cuda_graph import GraphedForward

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def test_buckets_and_cpu_passthrough():
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return x * 2, x.sum((1, 2))

    g = GraphedForward(fn, 'cpu', buckets=(4, 1, 16))
    assert g.buckets == (1, 4, 16) and not g.enabled
    assert [g.bucket(n) for n in (1, 2, 4, 5, 16, 17)] == [1, 4, 4, 16, 16, 0]
    x = torch.arange(30.0).reshape(5, 2, 3)
    a, b = g(x)
    torch.testing.assert_close(a, x * 2)
    torch.testing.assert_close(b, x.sum((1, 2)))
    assert calls == [5] and g.captured == 0  # no padding, no capture on the CPU


@cuda
def test_replay_equals_eager_and_padding_is_invisible():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1).cuda().eval()

    def fn(x):
        y = conv(x).relu()
        return y.mean((2, 3)), y.amax((1, 2, 3))

    g = GraphedForward(fn, 'cuda', buckets=(1, 4, 8))
    with torch.inference_mode():
        for n in (3, 4, 1, 7, 3, 9):  # 9 > largest bucket: eager
            x = torch.randn(n, 3, 32, 24, device='cuda')
            got = [o.clone() for o in g(x)]
            ref = fn(x)
            for a, b in zip(got, ref):
                assert a.shape[0] == n
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert g.captured == 3 and not g.failed


@cuda
def test_capture_failure_falls_back_to_eager():
    def fn(x):
        if x.sum().item() > -1e30:  # a host sync: capture fails
            return (x + 1,)
        return (x,)

    g = GraphedForward(fn, 'cuda')
    x = torch.ones(2, 3, device='cuda')
    torch.testing.assert_close(g(x)[0], x + 1)
    assert g.failed and not g.enabled
    torch.testing.assert_close(g(x)[0], x + 1)


@cuda
def test_blazepose_graphs_equal_eager(images_dir, detector, no_tf32):
    """Full FP32 (TF32 off).

    Eager N crops and the padded graph bucket use different conv algorithms.
    """
    import cv2
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    img = cv2.imread(str(images_dir / 'three.jpg'))
    boxes = detector.detect(img).boxes[:3]
    eager = BlazePoseEstimator(device='cuda', runtime='torch')
    graph = BlazePoseEstimator(device='cuda', runtime='torch', cuda_graph=True)
    for k in (1, 3):
        a, b = eager.estimate(img, boxes[:k]), graph.estimate(img, boxes[:k])
        assert graph.graphed_forward.captured >= 1 and not graph.graphed_forward.failed
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.05)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)


@cuda
def test_warmup_captures_every_bucket_up_to_max_persons():
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    est = BlazePoseEstimator(device='cuda', runtime='torch', cuda_graph=True)
    est.warmup(max_persons=5)  # buckets 1, 2, 4, 8
    assert est.graphed_forward.captured == 4 and not est.graphed_forward.failed


def test_warmup_without_graphs_runs_one_box():
    from poseflow_ros.pose.base import PoseEstimator
    from poseflow_ros.types import Poses

    seen = []

    class Fake(PoseEstimator):
        def estimate(self, image_bgr, boxes):
            seen.append(len(boxes))
            return Poses.empty()

    Fake().warmup(max_persons=20)
    f = Fake()
    f.graphed_forward = GraphedForward(lambda x: (x,), 'cpu')  # graphs disabled on the CPU
    f.warmup(max_persons=20)
    assert seen == [1, 1]
