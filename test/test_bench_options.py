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
    assert dflt == (
        node.overlap,
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
    assert {s[1] for s in sets} == {False, True}
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
