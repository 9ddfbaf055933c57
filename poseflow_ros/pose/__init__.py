"""Top-down pose backends behind one interface (:class:`PoseEstimator`).

- ``blazepose``: BlazePose-full ported to PyTorch, real weights from the mediapipe wheel (default).
- ``mmpose``: any MMPose 1.x top-down config + local checkpoint (RTMPose, HRNet, ...).
"""

from typing import Optional

from ..deprecation import renamed_argument
from .base import PoseEstimator

BACKENDS = ('blazepose', 'mmpose')
# what executes BlazePose (pose_runtime); 'auto' picks per device (blazepose_torch.auto_runtime)
BLAZEPOSE_RUNTIMES = ('auto', 'torch', 'onnxruntime', 'openvino')
# BlazePose's arithmetic on the CPU (pose_precision); bf16 runs on OpenVINO (blazepose_torch);
# 'auto' is bf16 where that can run, else fp32 (blazepose_torch.auto_precision)
POSE_PRECISIONS = ('auto', 'fp32', 'bf16')


def make_pose_estimator(
    backend: str = 'blazepose',
    device: str = 'cpu',
    fp16: bool = False,
    models_dir: str = '',
    mmpose_config: str = '',
    mmpose_checkpoint: str = '',
    mmpose_checkpoint_sha256: str = '',
    runtime: str = 'auto',
    num_threads: int = 0,
    cuda_graph: bool = False,
    heatmap_refine: bool = False,
    cuda_graphs: Optional[bool] = None,
    precision: str = 'fp32',
) -> PoseEstimator:
    """Make a pose estimator for ``backend``.

    ``cuda_graph``: replay the batched forward from CUDA graphs on CUDA (ignored on the CPU);
    ``cuda_graphs`` is its old name (still accepted, with a warning). ``heatmap_refine``: BlazePose
    decodes its landmarks with its heatmaps (MMPose's decoding is fixed by its config).
    ``precision``: BlazePose's CPU arithmetic, 'auto', 'fp32' or 'bf16' (on OpenVINO; MMPose: fp32
    only, which 'auto' means for it).
    """
    cuda_graph = renamed_argument(
        cuda_graph, cuda_graphs, 'cuda_graphs', 'cuda_graph', default=False
    )
    if backend == 'blazepose':
        from .blazepose_torch import BlazePoseEstimator

        return BlazePoseEstimator(
            models_dir=models_dir,
            device=device,
            fp16=fp16,
            runtime=runtime,
            num_threads=num_threads,
            cuda_graph=cuda_graph,
            heatmap_refine=heatmap_refine,
            precision=precision,
        )
    if backend == 'mmpose':
        if precision not in ('auto', 'fp32'):
            raise ValueError(
                f'pose_precision={precision} is for BlazePose on OpenVINO; MMPose runs fp32 on '
                'the CPU (fp16 on CUDA): set pose_precision:=fp32'
            )
        if not mmpose_config or not mmpose_checkpoint:
            raise ValueError(
                'pose_backend=mmpose needs mmpose_config (a config path or the name of a '
                'config shipped in the mmpose wheel) and mmpose_checkpoint (a local .pth)'
            )
        from .mmpose_backend import MMPoseEstimator

        return MMPoseEstimator(
            mmpose_config,
            mmpose_checkpoint,
            device=device,
            checkpoint_sha256=mmpose_checkpoint_sha256,
            fp16=fp16,
            cuda_graph=cuda_graph,
        )
    raise ValueError(f'unknown pose_backend {backend!r}; choose one of {BACKENDS}')


__all__ = ['PoseEstimator', 'make_pose_estimator', 'BACKENDS', 'BLAZEPOSE_RUNTIMES']
