"""Import stand-ins so mmpose 1.3.2 imports beside torch 2.13.0+cpu. Import this before mmpose.

1. ``torchvision``: ``mmpose.visualization`` imports ``torchvision.transforms.ToPILImage`` at
   import time; PyPI's torchvision cannot import beside this torch build. When torchvision is
   missing or broken, a minimal module providing only ``ToPILImage`` is registered (used by SimCC
   visualisation, never by inference).
2. ``mmcv._ext``: with mmcv-lite (no compiled ops), ``import mmcv.ops`` fails, but mmpose imports
   it at module level (EDPose head, mmdet's CSPNeXt scope). A stand-in whose functions raise
   NotImplementedError when *called* makes the imports work; top-down RTMPose/HRNet inference never
   calls a compiled op. With the full mmcv build nothing is replaced.
"""

import importlib.machinery
import sys
import types

try:
    import torchvision  # noqa: F401

    TORCHVISION_STANDIN = False
except Exception:  # noqa: BLE001 -- ImportError or the "operator torchvision::nms" RuntimeError
    for _k in [k for k in sys.modules if k.split('.')[0] == 'torchvision']:
        del sys.modules[_k]
    _tv = types.ModuleType('torchvision')
    _tvt = types.ModuleType('torchvision.transforms')

    class ToPILImage:
        """Tensor/ndarray (C,H,W) or (H,W,C) -> PIL image (enough for mmpose's SimCC viewer)."""

        def __init__(self, mode=None):
            self.mode = mode

        def __call__(self, pic):
            import numpy as np
            from PIL import Image

            a = pic.detach().cpu().numpy() if hasattr(pic, 'detach') else np.asarray(pic)
            if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
                a = a.transpose(1, 2, 0)
            if a.dtype != np.uint8:
                a = (np.clip(a, 0, 1) * 255).astype(np.uint8)
            return Image.fromarray(a.squeeze(), mode=self.mode)

    _tvt.ToPILImage = ToPILImage
    _tv.transforms = _tvt
    _tv.__spec__ = importlib.machinery.ModuleSpec('torchvision', None)
    _tvt.__spec__ = importlib.machinery.ModuleSpec('torchvision.transforms', None)
    sys.modules['torchvision'] = _tv
    sys.modules['torchvision.transforms'] = _tvt
    TORCHVISION_STANDIN = True

try:
    import mmcv._ext  # noqa: F401

    MMCV_EXT_STANDIN = False
except ImportError:

    class _MissingOps(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith('__'):
                raise AttributeError(name)

            def _missing(*_a, **_k):
                raise NotImplementedError(
                    f'mmcv._ext.{name}: compiled mmcv ops are not installed '
                    '(mmcv-lite); top-down pose does not need them'
                )

            return _missing

    _ext = _MissingOps('mmcv._ext')
    _ext.__spec__ = importlib.machinery.ModuleSpec('mmcv._ext', None)
    sys.modules['mmcv._ext'] = _ext
    MMCV_EXT_STANDIN = True
