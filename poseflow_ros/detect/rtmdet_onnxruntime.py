"""RTMDet-nano person detector on onnxruntime.

The whole end2end ONNX (network, decoding, NMS) runs in one session; pre- and post-processing come
from :class:`~.rtmdet_base.RTMDetBase`.
"""

from __future__ import annotations

import numpy as np

from ..types import Detections
from .rtmdet_base import RTMDetBase


class RTMDetOnnxruntimeDetector(RTMDetBase):
    """Person detector on onnxruntime (CUDA execution provider when device='cuda')."""

    runtime = 'onnxruntime'

    def __init__(self, *, device: str = 'cpu', num_threads: int = 0, **kwargs):
        """Open the onnxruntime session.

        ``num_threads`` > 0 sets the session's intra-op threads. The other keyword arguments (model
        file, thresholds, input size, canvas) go to :class:`~.rtmdet_base.RTMDetBase`, whose
        ``__init__`` lists them.
        """
        import onnxruntime as ort

        super().__init__(**kwargs)
        providers = ['CPUExecutionProvider']
        if device.startswith('cuda'):
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise RuntimeError(
                    'device=cuda but onnxruntime has no CUDAExecutionProvider: '
                    'install onnxruntime-gpu or set device:=cpu'
                )
            providers.insert(0, 'CUDAExecutionProvider')
        so = ort.SessionOptions()
        # no busy-waiting worker threads: on a small CPU they steal cycles from the other stages
        so.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if num_threads > 0:
            so.intra_op_num_threads = num_threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.model_path), sess_options=so, providers=providers
        )
        self.device = 'cuda' if providers[0].startswith('CUDA') else 'cpu'
        self.input_name = self.session.get_inputs()[0].name
        hw = list(self.session.get_inputs()[0].shape[2:])  # ints where the export fixed the size
        want = tuple(self.pre['size'])[::-1]
        if any(isinstance(d, int) and (self.canvas == 'fit' or d != v) for d, v in zip(hw, want)):
            raise ValueError(
                f'{self.model_path} takes a fixed height x width {hw} input: set '
                f'detector_input_size to it and detector_canvas to square (or re-export the '
                f'model with dynamic axes)'
            )

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Person boxes in ``image_bgr`` (image pixels), highest score first."""
        x, scale = self.preprocess(image_bgr)
        dets, labels = self.session.run(None, {self.input_name: x})
        return self.to_detections(dets[0], labels[0], scale, image_bgr.shape)
