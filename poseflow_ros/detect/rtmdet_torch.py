"""RTMDet-nano person detector run by PyTorch from the end2end ONNX (CUDA without onnxruntime-gpu).

* the network part, from ``input`` to the per-level head outputs, is executed by the ONNX -> torch
  executor :class:`~.onnx_graph.OnnxNet`, weights on the device;
* decoding and NMS are done as the graph does them (:mod:`.decode_boxes`);
* pre-processing and the final filtering are the onnxruntime detector's (:class:`RTMDetBase`).

With ``cuda_graph=True`` on CUDA the network forward (fixed input shape) is captured once per input
shape into a CUDA graph and replayed per frame.
"""

from __future__ import annotations

import logging
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np
import torch

from ..types import Detections
from . import decode_boxes
from .onnx_graph import OnnxNet
from .rtmdet_base import RTMDetBase

log = logging.getLogger(__name__)


def _resolve_torch_device(device: str) -> torch.device:
    """Return the torch device for ``device``; 'cuda' without a visible GPU is an error."""
    d = torch.device(device or 'cpu')
    if d.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device=cuda but torch sees no CUDA GPU; set device:=cpu')
    return d


class _InputState:
    """Buffers of one network-input shape (w, h).

    Host input (pinned on CUDA), device input, the uint8 letterbox canvas (host and device) when
    normalising on the device, the point priors and, with cuda_graph, the captured forward.
    """

    def __init__(self):
        self.host = self.host_np = self.input = None
        self.host_canvas = self.host_canvas_np = self.device_canvas = None
        self.last_resized = None
        self.priors = None
        self.graph = self.graph_out = None


class RTMDetTorchDetector(RTMDetBase):
    """Person detector on PyTorch (CPU or CUDA), equivalent to the onnxruntime one.

    Same boxes as :class:`RTMDetOnnxruntimeDetector` within float rounding. Meant for CUDA; on the
    CPU onnxruntime is 2-3x faster with one thread (tools/eval_onnx2torch.py), so
    ``detector_runtime: auto`` uses it there. ``num_threads`` > 0 sets torch's (process-wide) CPU
    thread count.

    Any input size that is a multiple of 32 works (``input_size``, ``canvas``: see
    :class:`RTMDetBase`): the buffers, point priors and CUDA graph are made per input shape, the
    first time a frame needs that shape (a stream's frames share one; ``warmup`` prepares it
    ahead).
    """

    runtime = 'torch'

    def __init__(
        self,
        *,
        device: str = 'cpu',
        num_threads: int = 0,
        cuda_graph: bool = False,
        device_normalise: bool = None,
        **kwargs,
    ):
        """Load the ONNX graph into torch on ``device``.

        ``cuda_graph`` captures the forward per input shape (CUDA only); ``device_normalise``: see
        the comment below. The other keyword arguments (model file, thresholds, input size,
        canvas) go to :class:`~.rtmdet_base.RTMDetBase`, whose ``__init__`` lists them.
        """
        try:
            import onnx
        except ImportError as e:
            raise ImportError(
                "the torch detector reads the model with the 'onnx' package: pip install onnx "
                '(or use detector_runtime:=onnxruntime)'
            ) from e
        super().__init__(**kwargs)
        self._dev = _resolve_torch_device(device)
        self.device = str(self._dev)
        if num_threads > 0 and self._dev.type == 'cpu':
            torch.set_num_threads(num_threads)  # process-wide in torch (as the pipeline sets it)
        graph = onnx.load(str(self.model_path)).graph
        self.cls_heads, self.reg_heads = decode_boxes.find_head_outputs(graph)
        self.net = OnnxNet(graph, self.cls_heads + self.reg_heads, self._dev)
        self.nms_settings = decode_boxes.graph_nms_settings(graph, self.model_path.parent)
        self._on_cpu = self._dev.type == 'cpu'
        # On CUDA only the letterboxed uint8 canvas goes up (0.3 MB at 320, pinned); the float
        # conversion and normalisation, the costly part on the host, run on the GPU (inside the
        # CUDA graph if any). (device_normalise: None = on CUDA; True on the CPU exercises the same
        # code path in tests)
        self.normalise_on_device = (
            (not self._on_cpu) if device_normalise is None else bool(device_normalise)
        )
        if self.normalise_on_device:
            mean = torch.tensor(self.pre['mean'], dtype=torch.float32)
            inv_std = 1.0 / torch.tensor(self.pre['std'], dtype=torch.float32)
            order = [2, 1, 0] if self.pre['to_rgb'] else [0, 1, 2]
            self._order = torch.tensor(order, device=self._dev)
            self._mean_d = mean.reshape(1, 3, 1, 1).to(self._dev)
            self._inv_std_d = inv_std.reshape(1, 3, 1, 1).to(self._dev)
        self.cuda_graph = bool(cuda_graph) and not self._on_cpu
        self._states: Dict[Tuple[int, int], _InputState] = {}
        # the usual camera frame, ready
        self._state = self._state_for(self.canvas_size((480, 640)))

    @property
    def _graph(self):
        """The CUDA graph of the current input shape (None when not captured)."""
        return self._state.graph

    # -- set-up
    def _state_for(self, wh) -> _InputState:
        """Return the buffers of network input (w, h), made on first use.

        Making them runs a warm-up forward and makes the priors and, with cuda_graph, the graph.
        """
        st = self._states.get(tuple(wh))
        if st is not None:
            self._state = st
            return st
        w, h = wh
        st = _InputState()
        # host buffer pinned on CUDA, so the upload is one async DMA. On CPU the input is
        # channels-last (NHWC strides): the convolutions then run ~1.4x faster, and the host buffer
        # is written by preprocess() through its numpy view, whatever its strides.
        fmt = torch.channels_last if self._on_cpu else torch.contiguous_format
        st.host = torch.zeros(
            (1, 3, h, w), dtype=torch.float32, pin_memory=not self._on_cpu
        ).contiguous(memory_format=fmt)
        st.host_np = st.host.numpy()
        st.input = st.host if self._on_cpu else torch.zeros_like(st.host, device=self._dev)
        if self.normalise_on_device:
            st.host_canvas = torch.full(
                (h, w, 3),
                int(round(self.pre['pad_val'])),
                dtype=torch.uint8,
                pin_memory=not self._on_cpu,
            )
            st.host_canvas_np = st.host_canvas.numpy()
            st.device_canvas = torch.zeros_like(st.host_canvas, device=self._dev)
        self._states[(w, h)] = self._state = st
        with torch.inference_mode():  # first (warm-up) forward: gives the feature-map sizes
            shapes = [t.shape[2:] for t in self._run_net(st)[: len(self.cls_heads)]]
        st.priors = decode_boxes.make_priors(shapes, h, w).to(self._dev)
        if self.cuda_graph:
            self._capture(st)
        return st

    def _capture(self, st: _InputState) -> None:
        """Capture the network forward on the static input buffer (warm-up on a side stream)."""
        try:
            side = torch.cuda.Stream(self._dev)
            side.wait_stream(torch.cuda.current_stream(self._dev))
            with torch.inference_mode(), torch.cuda.stream(side):
                for _ in range(3):
                    self._run_net(st)
            torch.cuda.current_stream(self._dev).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.inference_mode(), torch.cuda.graph(graph):
                st.graph_out = self._run_net(st)
            st.graph = graph
        except Exception as e:  # noqa: BLE001 -- never break detection: run eagerly instead
            self.cuda_graph = False
            log.warning(
                'RTMDet CUDA graph capture failed, running eagerly: %s: %s', type(e).__name__, e
            )

    # -- per frame
    def _run_net(self, st: _InputState):
        """Run the network on the device input.

        When normalising on the device, the input is made from the uint8 canvas first.
        """
        if self.normalise_on_device:
            x = st.device_canvas.permute(2, 0, 1)[None].index_select(1, self._order).float()
            st.input.copy_((x - self._mean_d) * self._inv_std_d)
        return self.net(st.input)

    def _upload_canvas(self, image_bgr: np.ndarray):
        """CUDA path.

        Keep-ratio resize (the same cv2 call as preprocess()) into the pinned uint8 canvas, padded
        with pad_val, and upload it. Returns the resize scale.
        """
        ih, iw = image_bgr.shape[:2]
        st = self._state_for(self.canvas_size(image_bgr.shape))
        nw, nh = self.resized_size(image_bgr.shape)
        if st.last_resized != (nw, nh):  # padding only changes with the frame size
            st.host_canvas_np[...] = int(round(self.pre['pad_val']))
            st.last_resized = (nw, nh)
        st.host_canvas_np[:nh, :nw] = cv2.resize(
            image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR
        )
        st.device_canvas.copy_(st.host_canvas, non_blocking=True)
        return nw / iw, nh / ih

    def forward(self, x: np.ndarray = None) -> Tuple[torch.Tensor, ...]:
        """Run the network on the input buffer; return the per-level head outputs.

        ``x``, a preprocessed (1,3,H,W) float input, is copied into the buffer of its shape first;
        without ``x`` (normalising on the device) the network runs on the canvas last uploaded.
        """
        if x is not None:
            st = self._state_for((x.shape[3], x.shape[2]))
            if x is not st.host_np:
                st.host_np[...] = x
            if st.input is not st.host:
                st.input.copy_(st.host, non_blocking=True)
            if self.normalise_on_device:  # a float input given: no graph, no canvas
                return self.net(st.input)
        st = self._state
        if st.graph is not None:
            st.graph.replay()
            return st.graph_out
        return self._run_net(st) if self.normalise_on_device else self.net(st.input)

    def decode(
        self, heads: Sequence[torch.Tensor], min_score: float = 0.0
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Decode head outputs to (dets (K,5), labels (K,)) in the network-input frame.

        As the end2end graph outputs them (see :func:`.decode_boxes.decode`); ``min_score`` is the
        detector's score threshold, applied before NMS.
        """
        return decode_boxes.decode(heads, self._state.priors, self.nms_settings, min_score)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Person boxes in ``image_bgr`` (image pixels), highest score first."""
        with torch.inference_mode():
            if self.normalise_on_device:
                scale = self._upload_canvas(image_bgr)
                heads = self.forward()
            else:
                st = self._state_for(self.canvas_size(image_bgr.shape))
                x, scale = self.preprocess(image_bgr, out=st.host_np)
                heads = self.forward(x)
            dets, labels = self.decode(heads, self.score_threshold)
        return self.to_detections(dets, labels, scale, image_bgr.shape)
