"""Person detectors behind one interface (:class:`PersonDetector`)."""

from .base import DEFAULT_SCORE_THRESHOLD, PersonDetector
from .rtmdet_onnx import CANVASES

DETECTORS = ('rtmdet_onnx', 'rtmdet_torch')
DETECTOR_RUNTIMES = ('auto', 'onnxruntime', 'torch')


def make_detector(
    kind: str = 'rtmdet_onnx', tile_size: int = 0, tile_overlap: float = 0.25, **kw
) -> PersonDetector:
    """Build a detector by name: 'rtmdet_onnx' (default, onnxruntime) or 'rtmdet_torch' (the same ONNX
    model executed by PyTorch, for CUDA without onnxruntime-gpu; takes ``cuda_graph``). Both take
    ``input_size`` (long side of the network input, a multiple of 32; 0 = the exported 320) and
    ``canvas`` ('square' | 'fit'). ``tile_size`` > 0 wraps it in a :class:`~.tiling.TiledDetector`
    (frames larger than one tile: overlapping tiles of that many pixels plus the whole frame)."""
    if kind == 'rtmdet_onnx':
        from .rtmdet_onnx import RTMDetONNXDetector

        det = RTMDetONNXDetector(**kw)
    elif kind == 'rtmdet_torch':
        from .rtmdet_torch import RTMDetTorchDetector

        det = RTMDetTorchDetector(**kw)
    else:
        raise ValueError(
            f'unknown detector {kind!r}; choose one of {", ".join(map(repr, DETECTORS))}'
        )
    if tile_size and tile_size > 0:
        from .tiling import TiledDetector

        det = TiledDetector(det, tile_size=int(tile_size), overlap=float(tile_overlap))
    return det


def detector_for_runtime(runtime: str, device: str) -> str:
    """The detector kind for a ``detector_runtime`` setting on a resolved device: 'auto' is torch on
    CUDA (onnxruntime there needs onnxruntime-gpu) and onnxruntime on the CPU (faster there)."""
    if runtime not in DETECTOR_RUNTIMES:
        raise ValueError(
            f'detector_runtime must be one of {", ".join(map(repr, DETECTOR_RUNTIMES))}, '
            f'got {runtime!r}'
        )
    if runtime == 'torch' or (runtime == 'auto' and str(device).startswith('cuda')):
        return 'rtmdet_torch'
    return 'rtmdet_onnx'


__all__ = [
    'PersonDetector',
    'DEFAULT_SCORE_THRESHOLD',
    'make_detector',
    'detector_for_runtime',
    'DETECTORS',
    'DETECTOR_RUNTIMES',
    'CANVASES',
]
