"""Person detectors behind one interface (:class:`PersonDetector`).

One model, RTMDet-nano person (``'rtmdet_nano_person'`` in :mod:`poseflow_ros.models`), on one of
two runtimes: ``'onnxruntime'`` (the whole end2end ONNX) or ``'torch'`` (the same ONNX's network
run by PyTorch, decoding in torch and NMS in numpy: for CUDA without onnxruntime-gpu). The
``detector_runtime`` setting adds ``'auto'`` (torch on CUDA, onnxruntime on the CPU), resolved by
:func:`resolve_runtime`.

Modules, from the bottom up: :mod:`.base` (the interface), :mod:`.onnx_graph` (the ONNX -> torch
executor), :mod:`.decode_boxes` (box decoding and NMS of the end2end graph), :mod:`.rtmdet_base`
(pre- and post-processing of both runtimes), :mod:`.rtmdet_onnxruntime`, :mod:`.rtmdet_torch`,
:mod:`.tiling` (overlapping tiles around any detector).
"""

from __future__ import annotations

from ..deprecation import warn_renamed
from .base import DEFAULT_MAX_DETECTIONS, DEFAULT_SCORE_THRESHOLD, PersonDetector
from .rtmdet_base import CANVASES, MODEL

DETECTOR_RUNTIMES = ('auto', 'onnxruntime', 'torch')
# the names make_detector took before the model and the runtime got one name each
_DEPRECATED_KINDS = {'rtmdet_onnx': 'onnxruntime', 'rtmdet_torch': 'torch'}


def _undeprecate(runtime: str) -> str:
    """Map an old detector name to its runtime (warning once); other names pass unchanged."""
    new = _DEPRECATED_KINDS.get(runtime)
    if new is None:
        return runtime
    # the model is always MODEL: the old name said only which runtime runs it
    warn_renamed(runtime, new, 'detector name')
    return new


def resolve_runtime(runtime: str, device: str = 'cpu') -> str:
    """Return the runtime ('onnxruntime' | 'torch') for a ``detector_runtime`` on a device.

    'auto' is torch on CUDA (onnxruntime there needs onnxruntime-gpu) and onnxruntime on the CPU
    (faster there). The names ``make_detector`` took before ('rtmdet_onnx', 'rtmdet_torch') still
    work, with a warning.
    """
    runtime = _undeprecate(runtime)
    if runtime not in DETECTOR_RUNTIMES:
        raise ValueError(
            f'detector_runtime must be one of {", ".join(map(repr, DETECTOR_RUNTIMES))}, '
            f'got {runtime!r}'
        )
    if runtime == 'torch' or (runtime == 'auto' and str(device).startswith('cuda')):
        return 'torch'
    return 'onnxruntime'


def make_detector(
    runtime: str = 'onnxruntime', tile_size: int = 0, tile_overlap: float = 0.25, **kw
) -> PersonDetector:
    """Build the RTMDet-nano person detector on ``runtime``.

    'onnxruntime' (default), 'torch' (the same ONNX model executed by PyTorch, for CUDA without
    onnxruntime-gpu; takes ``cuda_graph``) or 'auto' (by ``device``, see :func:`resolve_runtime`).
    Both take ``input_size`` (long side of the network input, a multiple of 32; 0 = the exported
    320) and ``canvas`` ('square' | 'fit'). ``tile_size`` > 0 wraps it in a
    :class:`~.tiling.TiledDetector` (frames larger than one tile: overlapping tiles of that many
    pixels plus the whole frame).
    """
    try:
        runtime = resolve_runtime(_undeprecate(runtime), kw.get('device', 'cpu'))
    except ValueError:
        raise ValueError(
            f'unknown detector runtime {runtime!r}; choose one of '
            f'{", ".join(map(repr, DETECTOR_RUNTIMES))}'
        ) from None
    if runtime == 'onnxruntime':
        from .rtmdet_onnxruntime import RTMDetOnnxruntimeDetector

        det = RTMDetOnnxruntimeDetector(**kw)
    else:
        from .rtmdet_torch import RTMDetTorchDetector

        det = RTMDetTorchDetector(**kw)
    if tile_size and tile_size > 0:
        from .tiling import TiledDetector

        det = TiledDetector(det, tile_size=int(tile_size), overlap=float(tile_overlap))
    return det


def detector_for_runtime(runtime: str, device: str) -> str:
    """Return the old detector name (deprecated).

    The old detector name ('rtmdet_onnx' | 'rtmdet_torch') for a runtime setting; use
    :func:`resolve_runtime`, whose result :func:`make_detector` takes.
    """
    warn_renamed('detector_for_runtime', 'resolve_runtime', 'function')
    old = {new: old for old, new in _DEPRECATED_KINDS.items()}
    return old[resolve_runtime(runtime, device)]


__all__ = [
    'PersonDetector',
    'DEFAULT_SCORE_THRESHOLD',
    'DEFAULT_MAX_DETECTIONS',
    'MODEL',
    'make_detector',
    'resolve_runtime',
    'detector_for_runtime',
    'DETECTOR_RUNTIMES',
    'CANVASES',
]
