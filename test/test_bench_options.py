"""The option sets of `make bench-pipeline`: the reference, the defaults, a missing OpenVINO."""

from poseflow_ros.pipeline import PipelineConfig
from poseflow_ros.pose import blazepose_torch
from poseflow_ros.ros.node_settings import NodeSettings
from tools import bench_pipeline as bp


def test_reference_is_the_previous_configuration_and_defaults_are_shipped():
    sets = bp.video_option_sets()
    names = [s[0] for s in sets]
    assert names[0] == 'sequential' and len(set(names)) == len(names)
    # the baseline of every ratio: one stage after another, every frame, onnxruntime FP32 on the
    # export as written (before the ONNX passes)
    assert sets[0][1:] == (False, 1, 0, 'onnxruntime', False, 'fp32')
    cfg, node = PipelineConfig(), NodeSettings()
    dflt = dict((s[0], s[1:]) for s in sets)['defaults']
    # the node's default: overlap false, overlap_when_behind true (the governor decides)
    assert (node.overlap, node.overlap_when_behind) == (False, True)
    assert dflt == (
        'when_behind',
        cfg.detection_interval,
        cfg.num_threads,
        cfg.pose_runtime,
        True,
        cfg.pose_precision,
    )
    # the passes alone, on and off
    assert dict((s[0], s[1:]) for s in sets)['passes'] == (
        False,
        1,
        0,
        'onnxruntime',
        True,
        'fp32',
    )
    # each option on and off: overlap, interval, runtime and precision all vary across the sets
    assert {s[1] for s in sets} == {False, True, 'when_behind'}
    assert {s[2] for s in sets} >= {1, 3} and 'openvino' in {s[4] for s in sets}
    assert {s.pose_precision for s in bp.VIDEO_OPTION_SETS} == {'fp32', 'bf16'}


def test_bf16_sets_drop_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(blazepose_torch, 'cpu_has_bf16', lambda: False)
    sets = bp.video_option_sets()
    assert sets and all(s.pose_precision != 'bf16' for s in sets)
    assert 'overlap+openvino' in [s.name for s in sets]


def test_selection_keeps_the_reference_and_openvino_sets_drop_without_it(monkeypatch):
    assert [s[0] for s in bp.video_option_sets(['interval3'])] == ['sequential', 'interval3']
    monkeypatch.setattr(blazepose_torch, '_has_openvino', lambda: False)
    sets = bp.video_option_sets()
    assert sets and all(s[4] != 'openvino' for s in sets) and sets[0][0] == 'sequential'


def test_video_sets_build_off_the_cpu(monkeypatch):
    """On CUDA a CPU-only runtime becomes 'auto'; on the CPU each set gets what it names."""
    seen = []

    class Pipe:
        pose = None

    def from_config(cfg):
        seen.append((cfg.device, cfg.pose_runtime, cfg.pose_precision))
        return Pipe()

    monkeypatch.setattr('poseflow_ros.pipeline.PosePipeline.from_config', from_config)
    vs = dict((s.name, s) for s in bp.video_option_sets())
    bp.video_pipeline(vs['sequential'], 'cuda')
    bp.video_pipeline(vs['overlap+openvino'], 'cpu')
    bp.video_pipeline(bp.VIDEO_OPTION_SETS[-1], 'cuda')  # a bf16 set: fp32 torch on CUDA
    bp.video_pipeline(bp.VIDEO_OPTION_SETS[-1], 'cpu')
    assert seen == [
        ('cuda', 'auto', 'fp32'),
        ('cpu', 'openvino', 'fp32'),
        ('cuda', 'auto', 'fp32'),
        ('cpu', 'openvino', 'bf16'),
    ]


def test_when_behind_overlaps_a_video_after_one_window(monkeypatch):
    """bench_video with overlap 'when_behind': sequential for the governor's first window.

    Then overlapped (a video is always ahead of the pipeline), the results in frame order.
    """
    import numpy as np

    from poseflow_ros.types import Detections

    class Pipe:
        pose = None

        def warmup(self):
            pass

        def detect_ahead(self, img):
            return Detections.empty()

        def process(self, frame, detections=None, detect_ms=None):
            order.append(frame.index)

            class R:
                timings_ms = {'pose': 1.0}
                tracks = []

            return R()

    class Reader:
        fps, frame_count = 25.0, 60

        def __init__(self, path):
            pass

        def __iter__(self):
            return iter(np.zeros((60, 4, 4, 3), np.uint8))

    order = []
    monkeypatch.setattr('poseflow_ros.video.VideoReader', Reader)
    v = bp.bench_video(lambda: Pipe(), 'x.mp4', overlap='when_behind')
    assert order == list(range(60))
    # on at the 25th frame (the default window of 25 full, all waiting), then every frame after
    assert v['frames_overlapped'] == 60 - 24
