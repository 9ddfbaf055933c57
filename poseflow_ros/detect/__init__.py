"""Person detectors behind one interface (:class:`PersonDetector`)."""
from .base import PersonDetector


def make_detector(kind: str = 'rtmdet_onnx', **kw) -> PersonDetector:
    """Build a detector by name: 'rtmdet_onnx' (default, onnxruntime)."""
    if kind == 'rtmdet_onnx':
        from .rtmdet_onnx import RTMDetONNXDetector
        return RTMDetONNXDetector(**kw)
    raise ValueError(f"unknown detector {kind!r}; choose 'rtmdet_onnx'")


__all__ = ['PersonDetector', 'make_detector']
