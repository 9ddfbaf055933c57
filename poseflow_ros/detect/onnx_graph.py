"""A small ONNX -> PyTorch graph executor: a graph's nodes run as torch ops, weights on the device.

It covers the ops of the RTMDet network (Conv, Sigmoid (fused with Mul into SiLU), Mul/Add/Sub/Div,
Relu, HardSigmoid, Concat, GlobalAveragePool, MaxPool, nearest Resize with integer scales,
Identity) and stops at the tensors it is asked for (the detector asks for the per-level head
outputs, before the graph's box decoding and NMS); an op outside that list raises
NotImplementedError naming it.

Why our own executor and not onnx2torch (PyPI, 1.5.15), measured with ``tools/eval_onnx2torch.py``
(16 real frames: MOT17-mini 1920 x 1080 and walk.small.mp4; one thread for torch and onnxruntime;
torch 2.14.1 in a separate venv, since onnx2torch needs torchvision; load average 4.4 on 2 cores):

* exactness: the same. Max abs difference of the raw head outputs to onnxruntime at input 320 / 448
  / 640: ours 8.3e-3 / 1.25e-2 / 2.7e-2, onnx2torch 8.7e-3 / 1.24e-2 / 2.7e-2 (box distances in
  input pixels); final boxes (our decoding after either): max 0.007 / 0.039 / 0.039 px for both,
  the same 2 of 1277 boxes at 448 swapped by an NMS tie (IoU 0.59999 at threshold 0.6);
* speed: ours is faster. Network forward, median ms at 320 / 448 / 640: onnxruntime 9.2 / 16.4 /
  35.0, ours 20.7 / 36.7 / 74.4, onnx2torch 33.2 / 56.7 / 116.3 (23.3 / 39.9 / 81.8 when made
  channels-last as ours is on the CPU). A second run at load 5-6.6: onnx2torch 1.44-1.57x ours
  (channels-last 1.04-1.26x), ours 2.0-2.75x onnxruntime;
* the whole end2end graph: onnx2torch converts it but cannot run it (its Flatten with axis equal to
  the rank, in mmdeploy's post-NMS gather, raises IndexError), so decoding and NMS stay ours
  anyway;
* dynamic input sizes: both run one conversion at every size;
* CUDA graphs (read, no GPU here): onnx2torch's Resize calls ``scales.tolist()`` in every forward
  (2 in this network), a device -> host copy that a CUDA-graph capture rejects; ours binds the
  scales at compile time, so its forward has no host copy (the torch detector captures it,
  ``cuda_graph``);
* dependencies: onnx2torch imports torchvision, which from PyPI brings a CUDA build of torch.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F


def node_attrs(node) -> dict:
    """Return the attributes of an ONNX node as python values."""
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
    """Only explicit pads are supported (auto_pad NOTSET)."""
    auto_pad = a.get('auto_pad', b'NOTSET')
    if auto_pad not in (b'NOTSET', 'NOTSET'):
        raise NotImplementedError(f'{op}: auto_pad={auto_pad!r}')


def _hard_sigmoid(x, alpha, beta):
    """ONNX HardSigmoid: clamp(alpha * x + beta, 0, 1)."""
    return (x * alpha + beta).clamp_(0.0, 1.0)


def _compile_node(node, a: dict, consts: Dict[str, torch.Tensor]):
    """One ONNX node -> (fn, names of its runtime inputs).

    Constant inputs (weights, scales) are bound into ``fn`` here, so the per-frame loop only calls
    it.
    """
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
    """Executes an ONNX graph from its input to ``outputs`` with torch ops on ``device``.

    Constant subgraphs (Constant, Identity of initializers) are folded at init; the node list,
    bound weights and the point after which each intermediate tensor can be freed are precomputed,
    so a call is one python loop over the compute nodes.
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
            a = node_attrs(n)
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

    @staticmethod
    def _fuse_silu(compute):
        """Fuse Sigmoid(x) -> s, Mul(x, s) (s used only there) into one SiLU(x) (fewer kernels)."""
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
        """Run the graph on ``x`` (its first input); return the ``outputs`` tensors."""
        env = {self.input_name: x}
        for fn, ins, out, frees in self.steps:
            env[out] = fn(*[env[i] for i in ins])
            for t in frees:
                del env[t]
        return tuple(env[o] for o in self.outputs)
