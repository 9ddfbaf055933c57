"""RTMDet-nano person detector run by PyTorch from the same end2end ONNX (CUDA without onnxruntime-gpu).

The mmdeploy "end2end" graph is the network (backbone, neck, head convs) followed by box decoding and
NonMaxSuppression. Here:

* the network part, from ``input`` to the per-level head outputs (class logits ``(1, C, H, W)`` and
  box distances ``(1, 4, H, W)``, already multiplied by the stride in the graph), is executed by a
  small ONNX -> torch interpreter (:class:`OnnxNet`) over the few ops it uses, weights on the device;
* decoding is done as the graph does it: point priors ``(col * stride, row * stride)`` (offset 0),
  boxes ``(px - l, py - t, px + r, py + b)`` (not clipped), sigmoid scores, then the graph's
  post-processing: candidates scoring above the NMS score threshold, at most ``pre_top_k`` anchors
  (by their best class score), greedy per-class NMS (IoU as onnxruntime computes it, at most
  ``max_output_boxes_per_class`` per class), the ``keep_top_k`` best overall;
* pre-processing and the final filtering are the onnxruntime detector's (:class:`RTMDetBase`).

With ``cuda_graph=True`` on CUDA the network forward (fixed input shape) is captured once per input shape
into a CUDA graph and replayed per frame.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..types import Detections
from ..geometry import iou_matrix
from .base import DEFAULT_SCORE_THRESHOLD
from .rtmdet_onnx import RTMDetBase

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- ONNX -> torch executor


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _sym_pads(pads: Sequence[int], op: str) -> Tuple[int, ...]:
    """ONNX pads (begin..., end...) -> torch padding; only symmetric padding is supported."""
    pads = list(pads or [0, 0, 0, 0])
    half = len(pads) // 2
    if pads[:half] != pads[half:]:
        raise NotImplementedError(f'{op}: asymmetric pads {pads}')
    return tuple(pads[:half])


def _check_auto_pad(a: dict, op: str) -> None:
    auto_pad = a.get('auto_pad', b'NOTSET')
    if auto_pad not in (b'NOTSET', 'NOTSET'):
        raise NotImplementedError(f'{op}: auto_pad={auto_pad!r}')


def _hard_sigmoid(x, alpha, beta):
    return (x * alpha + beta).clamp_(0.0, 1.0)


def _compile_node(node, a: dict, consts: Dict[str, torch.Tensor]):
    """One ONNX node -> (fn, names of its runtime inputs). Constant inputs (weights, scales) are bound
    into ``fn`` here, so the per-frame loop only calls it."""
    op = node.op_type
    ins = list(node.input)
    if op == 'Conv':
        _check_auto_pad(a, op)
        w = consts[ins[1]]
        b = consts[ins[2]] if len(ins) > 2 and ins[2] else None
        kw = dict(
            stride=tuple(a.get('strides', [1, 1])),
            padding=_sym_pads(a.get('pads'), op),
            dilation=tuple(a.get('dilations', [1, 1])),
            groups=int(a.get('group', 1)),
        )
        return (lambda x: F.conv2d(x, w, b, **kw)), ins[:1]
    if op == 'Sigmoid':
        return torch.sigmoid, ins
    if op == 'SiLU':  # our fusion of Sigmoid + Mul, see OnnxNet._fuse_silu
        return F.silu, ins
    if op in ('Mul', 'Add', 'Sub', 'Div'):
        fn = {'Mul': torch.mul, 'Add': torch.add, 'Sub': torch.sub, 'Div': torch.div}[op]
        if ins[1] in consts:  # e.g. the head's "distance * stride"
            c = consts[ins[1]]
            return (lambda x: fn(x, c)), ins[:1]
        if ins[0] in consts:
            c = consts[ins[0]]
            return (lambda y: fn(c, y)), ins[1:]
        return fn, ins
    if op == 'Relu':
        return F.relu, ins
    if op == 'HardSigmoid':
        alpha, beta = float(a.get('alpha', 0.2)), float(a.get('beta', 0.5))
        return (lambda x: _hard_sigmoid(x, alpha, beta)), ins
    if op == 'Concat':
        axis = int(a['axis'])
        return (lambda *xs: torch.cat(xs, axis)), ins
    if op == 'GlobalAveragePool':
        return (lambda x: x.mean((2, 3), keepdim=True)), ins
    if op == 'MaxPool':
        _check_auto_pad(a, op)
        if a.get('storage_order', 0) or any(d != 1 for d in a.get('dilations', [1, 1])):
            raise NotImplementedError('MaxPool: storage_order / dilations')
        kw = dict(
            kernel_size=tuple(a['kernel_shape']),
            stride=tuple(a.get('strides', [1, 1])),
            padding=_sym_pads(a.get('pads'), op),
            ceil_mode=bool(a.get('ceil_mode', 0)),
        )
        return (lambda x: F.max_pool2d(x, **kw)), ins
    if op == 'Resize':
        # only nearest / asymmetric / floor with constant integer scales, i.e. plain repetition
        mode = a.get('mode', b'nearest')
        ctm = a.get('coordinate_transformation_mode', b'half_pixel')
        nearest_mode = a.get('nearest_mode', b'round_prefer_floor')
        scales = consts[ins[2]].cpu().numpy() if len(ins) > 2 and ins[2] in consts else np.zeros(0)
        if (
            mode != b'nearest'
            or ctm != b'asymmetric'
            or nearest_mode != b'floor'
            or len(ins) > 3
            or scales.shape != (4,)
            or (scales[:2] != 1).any()
            or (scales % 1).any()
        ):
            raise NotImplementedError(f'Resize: {mode} {ctm} {nearest_mode} scales={scales}')
        sf = (float(scales[2]), float(scales[3]))
        return (lambda x: F.interpolate(x, scale_factor=sf, mode='nearest')), ins[:1]
    if op == 'Identity':
        return (lambda x: x), ins
    raise NotImplementedError(f'ONNX op {op} is not supported by the torch executor')


class OnnxNet:
    """Executes the part of an ONNX graph from its input to ``outputs`` with torch ops on ``device``.

    Constant subgraphs (Constant, Identity of initializers) are folded at init; the node list, bound
    weights and the point after which each intermediate tensor can be freed are precomputed, so a call
    is one python loop over the compute nodes.
    """

    def __init__(self, graph, outputs: Sequence[str], device):
        from onnx import numpy_helper

        self.device = torch.device(device)
        self.input_name = graph.input[0].name
        self.outputs = list(outputs)
        producer = {o: n for n in graph.node for o in n.output}
        consts = {
            i.name: torch.from_numpy(numpy_helper.to_array(i).copy()).to(self.device)
            for i in graph.initializer
        }
        # the nodes the outputs depend on, in graph (topological) order
        needed, stack = set(), list(self.outputs)
        while stack:
            t = stack.pop()
            n = producer.get(t)
            if n is None or id(n) in needed:
                continue
            needed.add(id(n))
            stack.extend(i for i in n.input if i)
        nodes = [n for n in graph.node if id(n) in needed]
        compute = []
        for n in nodes:  # fold constants
            a = _attrs(n)
            if n.op_type == 'Constant':
                consts[n.output[0]] = torch.from_numpy(
                    numpy_helper.to_array(a['value']).copy()
                ).to(self.device)
            elif n.op_type == 'Identity' and n.input[0] in consts:
                consts[n.output[0]] = consts[n.input[0]]
            else:
                compute.append((n, a))
        compute = self._fuse_silu(compute)
        self.steps: List[tuple] = []
        for n, a in compute:
            fn, ins = _compile_node(n, a, consts)
            for i in ins:
                if i not in consts and i != self.input_name and i not in producer:
                    raise ValueError(
                        f'{n.op_type} {n.name}: input {i} is not produced by the graph'
                    )
            self.steps.append((fn, tuple(ins), n.output[0]))
        # free every intermediate after its last use (keeps peak memory small)
        last_use = {}
        for k, (_, ins, _) in enumerate(self.steps):
            for i in ins:
                last_use[i] = k
        frees = [[] for _ in self.steps]
        for t, k in last_use.items():
            if t not in self.outputs and t != self.input_name:
                frees[k].append(t)
        self.steps = [(fn, ins, out, tuple(fr)) for (fn, ins, out), fr in zip(self.steps, frees)]
        self.op_types = sorted({n.op_type for n, _ in compute})

    @staticmethod
    def _fuse_silu(compute):
        """Sigmoid(x) -> s, Mul(x, s) with s used only there  =>  one SiLU(x) node (fewer kernels)."""
        uses = {}
        for n, _ in compute:
            for i in n.input:
                uses[i] = uses.get(i, 0) + 1
        sig = {
            n.output[0]: n
            for n, _ in compute
            if n.op_type == 'Sigmoid' and uses.get(n.output[0]) == 1
        }
        from onnx import helper

        fused, out = set(), []
        for n, a in compute:
            if n.op_type == 'Mul':
                for x, s in (n.input, n.input[::-1]):  # Mul(x, sigmoid(x)) in either order
                    if s in sig and sig[s].input[0] == x:
                        fused.add(s)
                        n = helper.make_node('SiLU', [x], list(n.output), name=n.name)
                        break
            out.append((n, a))
        return [(n, a) for n, a in out if not (n.op_type == 'Sigmoid' and n.output[0] in fused)]

    def __call__(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        env = {self.input_name: x}
        for fn, ins, out, frees in self.steps:
            env[out] = fn(*[env[i] for i in ins])
            for t in frees:
                del env[t]
        return tuple(env[o] for o in self.outputs)


def find_head_outputs(graph) -> Tuple[List[str], List[str]]:
    """(class-logit tensors, box-distance tensors), one per level in the graph's concatenation order.

    The decode starts where each head output goes through Transpose(0,2,3,1) + Reshape into a Concat
    over the levels; the Concat that feeds a Sigmoid holds the class logits, the other the boxes.
    """
    producer = {o: n for n in graph.node for o in n.output}
    consumers: Dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def head_of(t):  # Reshape(Transpose(head)) -> head, else None
        r = producer.get(t)
        tr = producer.get(r.input[0]) if r is not None and r.op_type == 'Reshape' else None
        if (
            tr is not None
            and tr.op_type == 'Transpose'
            and list(_attrs(tr)['perm']) == [0, 2, 3, 1]
        ):
            return tr.input[0]
        return None

    cls, reg = [], []
    for n in graph.node:
        if n.op_type != 'Concat':
            continue
        heads = [head_of(i) for i in n.input]
        if not heads or None in heads:
            continue
        if any(c.op_type == 'Sigmoid' for c in consumers.get(n.output[0], [])):
            cls = heads
        else:
            reg = heads
    if not cls or len(cls) != len(reg):
        raise ValueError('could not find the per-level head outputs of the RTMDet end2end graph')
    return cls, reg


# ----------------------------------------------------------------------------- post-processing


def _graph_post_params(graph, model_dir: Path) -> dict:
    """The NMS settings the end2end graph uses: NonMaxSuppression's constant inputs (score and IoU
    thresholds, max boxes per class) and pre/keep top-k from mmdeploy's detail.json (the graph's TopK
    sizes; 5000 and 100 for the shipped model). detail.json's own iou_threshold (0.5) is NOT what the
    graph uses (0.6, from the model's test_cfg), hence the graph is read first."""
    from onnx import numpy_helper

    p = {
        'pre_top_k': 5000,
        'keep_top_k': 100,
        'max_per_class': 200,
        'iou_threshold': 0.6,
        'score_threshold': 0.05,
    }
    detail = model_dir / 'detail.json'
    if detail.is_file():
        pp = json.loads(detail.read_text()).get('codebase_config', {}).get('post_processing', {})
        p['pre_top_k'] = int(pp.get('pre_top_k', p['pre_top_k']))
        p['keep_top_k'] = int(pp.get('keep_top_k', p['keep_top_k']))
    values = {
        n.output[0]: numpy_helper.to_array(_attrs(n)['value'])
        for n in graph.node
        if n.op_type == 'Constant'
    }
    values.update({i.name: numpy_helper.to_array(i) for i in graph.initializer})
    nms = [n for n in graph.node if n.op_type == 'NonMaxSuppression']
    if len(nms) == 1:
        ins = list(nms[0].input) + [''] * 5
        for k, name, cast in (
            (2, 'max_per_class', int),
            (3, 'iou_threshold', float),
            (4, 'score_threshold', float),
        ):
            if ins[k] in values:
                p[name] = cast(values[ins[k]].reshape(-1)[0])
        if _attrs(nms[0]).get('center_point_box', 0):
            raise NotImplementedError('NonMaxSuppression with center_point_box=1')
    return p


def self_iou(boxes: np.ndarray) -> np.ndarray:
    """(M, M) IoU as onnxruntime's NonMaxSuppression computes it: corners taken as min/max of the two
    coordinates (then the pairwise IoU, which gives 0 for no overlap or no area)."""
    b = np.concatenate(
        [np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], 1
    )
    return iou_matrix(b, b)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Greedy NMS as onnxruntime's NonMaxSuppression: highest score first, a box is dropped when its
    IoU with a kept one is > iou_threshold; at most max_keep. Returns kept indices, best first.
    The IoU matrix of the (few) candidates is computed once; the greedy pass is a loop over rows."""
    order = np.argsort(-scores, kind='stable')
    suppress = self_iou(boxes[order]) > iou_threshold
    removed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(order[i])
        if len(keep) >= max_keep:
            break
        removed |= suppress[i]
    return np.asarray(keep, np.int64)


# ----------------------------------------------------------------------------- the detector


def _resolve_torch_device(device: str) -> torch.device:
    d = torch.device(device or 'cpu')
    if d.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device=cuda but torch sees no CUDA GPU; set device:=cpu')
    return d


class _InputState:
    """Buffers of one network-input shape (w, h): host input (pinned on CUDA), device input, the uint8
    canvas of the CUDA path, the point priors and, with cuda_graph, the captured forward."""

    def __init__(self):
        self.host = self.host_np = self.input = None
        self.host_u8 = self.host_u8_np = self.dev_u8 = None
        self.last_resized = None
        self.priors = None
        self.graph = self.graph_out = None


class RTMDetTorchDetector(RTMDetBase):
    """Person detector on PyTorch (CPU or CUDA), equivalent to :class:`RTMDetONNXDetector` (same boxes
    within float rounding). Meant for CUDA; on the CPU onnxruntime is about 1.5x faster, so
    ``detector_runtime: auto`` uses onnxruntime there. ``num_threads`` > 0 sets torch's (process-wide)
    CPU thread count.

    Any input size that is a multiple of 32 works (``input_size``, ``canvas``: see
    :class:`RTMDetBase`): the buffers, point priors and CUDA graph are made per input shape, the first
    time a frame needs that shape (a stream's frames share one; ``warmup`` prepares it ahead)."""

    name = 'rtmdet_nano_torch'

    def __init__(
        self,
        model_path: str = '',
        models_dir: str = '',
        device: str = 'cpu',
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        min_box_size: float = 8.0,
        max_detections: int = 50,
        num_threads: int = 0,
        cuda_graph: bool = False,
        device_normalise: bool = None,
        input_size: int = 0,
        canvas: str = 'square',
    ):
        try:
            import onnx
        except ImportError as e:
            raise ImportError(
                "the torch detector reads the model with the 'onnx' package: pip install onnx "
                '(or use detector_runtime:=onnxruntime)'
            ) from e
        super().__init__(
            model_path,
            models_dir,
            score_threshold,
            min_box_size,
            max_detections,
            input_size,
            canvas,
        )
        self._dev = _resolve_torch_device(device)
        self.device = str(self._dev)
        if num_threads > 0 and self._dev.type == 'cpu':
            torch.set_num_threads(num_threads)  # process-wide in torch (as the pipeline sets it)
        graph = onnx.load(str(self.model_path)).graph
        self.cls_heads, self.reg_heads = find_head_outputs(graph)
        self.net = OnnxNet(graph, self.cls_heads + self.reg_heads, self._dev)
        self.post = _graph_post_params(graph, self.model_path.parent)
        self._on_cpu = self._dev.type == 'cpu'
        # On CUDA only the letterboxed uint8 canvas goes up (0.3 MB at 320, pinned); the float conversion
        # and normalisation, the costly part on the host, run on the GPU (inside the CUDA graph if any).
        # (device_normalise: None = on CUDA; True on the CPU exercises the same code path in tests)
        self._u8 = (not self._on_cpu) if device_normalise is None else bool(device_normalise)
        if self._u8:
            mean = torch.tensor(self.pre['mean'], dtype=torch.float32)
            inv_std = 1.0 / torch.tensor(self.pre['std'], dtype=torch.float32)
            order = [2, 1, 0] if self.pre['to_rgb'] else [0, 1, 2]
            self._order = torch.tensor(order, device=self._dev)
            self._mean_d = mean.reshape(1, 3, 1, 1).to(self._dev)
            self._inv_std_d = inv_std.reshape(1, 3, 1, 1).to(self._dev)
        self.cuda_graph = bool(cuda_graph) and not self._on_cpu
        self._states: Dict[Tuple[int, int], _InputState] = {}
        self._state = self._state_for(
            self.canvas_size((480, 640))
        )  # the usual camera frame, ready

    @property
    def _graph(self):
        """The CUDA graph of the current input shape (None when not captured)."""
        return self._state.graph

    # -- set-up
    def _state_for(self, wh) -> _InputState:
        """The buffers of network input (w, h), made (warm-up forward, priors, CUDA graph) on first use."""
        st = self._states.get(tuple(wh))
        if st is not None:
            self._state = st
            return st
        w, h = wh
        st = _InputState()
        # host buffer pinned on CUDA, so the upload is one async DMA. On CPU the input is channels-last
        # (NHWC strides): the convolutions then run ~1.4x faster, and the host buffer is written by
        # preprocess() through its numpy view, whatever its strides.
        fmt = torch.channels_last if self._on_cpu else torch.contiguous_format
        st.host = torch.zeros(
            (1, 3, h, w), dtype=torch.float32, pin_memory=not self._on_cpu
        ).contiguous(memory_format=fmt)
        st.host_np = st.host.numpy()
        st.input = st.host if self._on_cpu else torch.zeros_like(st.host, device=self._dev)
        if self._u8:
            st.host_u8 = torch.full(
                (h, w, 3),
                int(round(self.pre['pad_val'])),
                dtype=torch.uint8,
                pin_memory=not self._on_cpu,
            )
            st.host_u8_np = st.host_u8.numpy()
            st.dev_u8 = torch.zeros_like(st.host_u8, device=self._dev)
        self._states[(w, h)] = self._state = st
        with torch.inference_mode():  # first (warm-up) forward: gives the feature-map sizes
            shapes = [t.shape[2:] for t in self._run_net(st)[: len(self.cls_heads)]]
        st.priors = self._make_priors(shapes, h, w).to(self._dev)
        if self.cuda_graph:
            self._capture(st)
        return st

    @staticmethod
    def _make_priors(shapes, h: int, w: int) -> torch.Tensor:
        """(N, 2) float32 x, y point priors (col * stride, row * stride) of the levels with feature maps
        ``shapes``, in the order the head outputs are flattened (as the graph's Range/Expand nodes)."""
        pts = []
        for fh, fw in shapes:
            stride = h // fh
            if stride * fh != h or stride * fw != w:
                raise ValueError(f'input {w}x{h} is not a multiple of the feature map {fw}x{fh}')
            ys, xs = torch.meshgrid(
                torch.arange(fh) * stride, torch.arange(fw) * stride, indexing='ij'
            )
            pts.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 1))
        return torch.cat(pts).to(torch.float32)

    def _capture(self, st: _InputState) -> None:
        """Capture the network forward on the static input buffer (warm-up on a side stream first)."""
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
        """The network on the device input; on CUDA from the uint8 canvas (normalised on the GPU)."""
        if self._u8:
            x = st.dev_u8.permute(2, 0, 1)[None].index_select(1, self._order).float()
            st.input.copy_((x - self._mean_d) * self._inv_std_d)
        return self.net(st.input)

    def _letterbox_u8(self, image_bgr: np.ndarray):
        """CUDA path: keep-ratio resize (the same cv2 call as preprocess()) into the pinned uint8 canvas,
        padded with pad_val, and upload it. Returns the resize scale."""
        ih, iw = image_bgr.shape[:2]
        st = self._state_for(self.canvas_size(image_bgr.shape))
        nw, nh = self.resized_size(image_bgr.shape)
        if st.last_resized != (nw, nh):  # padding only changes with the frame size
            st.host_u8_np[...] = int(round(self.pre['pad_val']))
            st.last_resized = (nw, nh)
        st.host_u8_np[:nh, :nw] = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        st.dev_u8.copy_(st.host_u8, non_blocking=True)
        return nw / iw, nh / ih

    def forward(self, x: np.ndarray = None) -> Tuple[torch.Tensor, ...]:
        """Network on the input buffer (after ``x``, a preprocessed (1,3,H,W) float input, is copied into
        the buffer of its shape; on CUDA without ``x``: on the uint8 canvas last uploaded): per-level head
        outputs."""
        if x is not None:
            st = self._state_for((x.shape[3], x.shape[2]))
            if x is not st.host_np:
                st.host_np[...] = x
            if st.input is not st.host:
                st.input.copy_(st.host, non_blocking=True)
            if self._u8:  # a float input given on CUDA: no graph, no canvas
                return self.net(st.input)
        st = self._state
        if st.graph is not None:
            st.graph.replay()
            return st.graph_out
        return self._run_net(st) if self._u8 else self.net(st.input)

    def decode(
        self, heads: Sequence[torch.Tensor], min_score: float = 0.0
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Per-level head outputs -> (dets (K,5), labels (K,)) in the network-input frame, as the
        end2end graph outputs them (score-sorted, at most keep_top_k; without the graph's zero-score
        padding row). ``min_score`` > 0 drops candidates scoring below it before NMS: that leaves every
        box scoring at least min_score unchanged (greedy NMS only lets higher scores suppress lower ones,
        and the top-k caps count in score order) and saves the NMS work on low-score boxes."""
        p = self.post
        n_lvl = len(self.cls_heads)
        num_classes = heads[0].shape[1]
        logits = torch.cat([t.permute(0, 2, 3, 1).reshape(-1, num_classes) for t in heads[:n_lvl]])
        dist = torch.cat([t.permute(0, 2, 3, 1).reshape(-1, 4) for t in heads[n_lvl:]])
        scores = logits.sigmoid()
        # candidates: anchors whose best class passes the NMS score threshold, at most pre_top_k of them
        # (same set as the graph's TopK-then-threshold: every anchor above the threshold outranks the rest)
        best = scores.max(1).values
        idx = torch.nonzero((best > p['score_threshold']) & (best >= min_score)).squeeze(1)
        if idx.numel() > p['pre_top_k']:
            idx = idx[best[idx].topk(p['pre_top_k']).indices]
        pri, d = self._state.priors[idx], dist[idx]
        boxes = torch.cat([pri - d[:, :2], pri + d[:, 2:]], 1)
        cand = torch.cat([boxes, scores[idx]], 1).cpu().numpy()  # the one device -> host copy
        boxes, scores = cand[:, :4], cand[:, 4:]
        dets, labels = [], []
        for c in range(num_classes):  # per-class NMS (ONNX semantics)
            m = np.flatnonzero((scores[:, c] > p['score_threshold']) & (scores[:, c] >= min_score))
            keep = m[nms(boxes[m], scores[m, c], p['iou_threshold'], p['max_per_class'])]
            dets.append(np.concatenate([boxes[keep], scores[keep, c : c + 1]], 1))
            labels.append(np.full(len(keep), c, np.int64))
        dets, labels = np.concatenate(dets), np.concatenate(labels)
        order = np.argsort(-dets[:, 4], kind='stable')[: p['keep_top_k']]
        return dets[order].astype(np.float32), labels[order]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        with torch.inference_mode():
            if self._u8:
                scale = self._letterbox_u8(image_bgr)
                heads = self.forward()
            else:
                st = self._state_for(self.canvas_size(image_bgr.shape))
                x, scale = self.preprocess(image_bgr, out=st.host_np)
                heads = self.forward(x)
            dets, labels = self.decode(heads, self.score_threshold)
        return self.to_detections(dets, labels, scale, image_bgr.shape)
