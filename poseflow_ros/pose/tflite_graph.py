"""Run a float TFLite graph (float16 or float32 weights) as a torch.nn.Module.

The flatbuffer is read with the `tflite` package; each operator the requested outputs depend on
becomes one step of `forward` (NCHW internally; TFLite SAME padding reproduced exactly, including
its asymmetric case, computed once for the graph's own input size, which `forward` must be given;
fused activations applied). Weights become float32 buffers, so `.to(device)`
and `.half()` work. An operator outside the supported set raises NotImplementedError naming it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

_OPS = None


def _opnames():
    import tflite

    global _OPS
    if _OPS is None:
        _OPS = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith('_')}
    return _OPS


def _act(x, code):
    if code == 0:
        return x
    if code == 1:
        return F.relu(x)
    if code == 2:
        return x.clamp(-1, 1)
    if code == 3:
        return x.clamp(0, 6)
    if code == 4:
        return torch.tanh(x)
    raise NotImplementedError(f'fused activation {code}')


def _same_pad(size, k, s, d=1):
    keff = (k - 1) * d + 1
    out = math.ceil(size / s)
    total = max((out - 1) * s + keff - size, 0)
    return total // 2, total - total // 2


def _static_pad(cfg: dict, nhwc_shape) -> tuple:
    """(top, bottom, left, right) padding of a convolution or pool from the graph's static shape.

    TFLite SAME (possibly asymmetric: the extra row / column at the end) or VALID (none). Python
    ints computed once, so an ONNX export holds constant pads instead of a subgraph on the traced
    input shape.
    """
    if not cfg['same']:
        return (0, 0, 0, 0)
    h, w = int(nhwc_shape[1]), int(nhwc_shape[2])
    ph = _same_pad(h, cfg['k'][0], cfg['stride'][0], cfg['dil'][0])
    pw = _same_pad(w, cfg['k'][1], cfg['stride'][1], cfg['dil'][1])
    return (int(ph[0]), int(ph[1]), int(pw[0]), int(pw[1]))


class TFLiteModule(nn.Module):
    def __init__(self, path, outputs=None):
        super().__init__()
        import tflite

        buf = open(path, 'rb').read()
        m = tflite.Model.GetRootAsModel(buf, 0)
        g = m.Subgraphs(0)
        names = _opnames()
        tensors = [g.Tensors(i) for i in range(g.TensorsLength())]
        self.tname = [t.Name().decode() for t in tensors]
        shapes = [tuple(t.ShapeAsNumpy()) if t.ShapeLength() else () for t in tensors]
        dtypes = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64}
        consts = {}
        for i, t in enumerate(tensors):
            b = m.Buffers(t.Buffer())
            if b is not None and b.DataLength() > 0:
                consts[i] = np.frombuffer(
                    b.DataAsNumpy().tobytes(), dtype=dtypes[t.Type()]
                ).reshape(shapes[i])
        self.input_index = g.Inputs(0)
        out_idx = [g.Outputs(i) for i in range(g.OutputsLength())]
        if outputs is not None:
            out_idx = [i for i in out_idx if self.tname[i] in outputs]
        self.output_index = out_idx
        ops = []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = m.OperatorCodes(op.OpcodeIndex())
            name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            ops.append((name, list(op.InputsAsNumpy()), list(op.OutputsAsNumpy()), op))
        # keep only ops that the wanted outputs depend on
        need = set(out_idx)
        keep = []
        for name, ins, outs, op in reversed(ops):
            if need & set(outs):
                keep.append((name, ins, outs, op))
                need |= {j for j in ins if j >= 0}
        keep.reverse()
        # dequantize constants ahead of time
        for name, ins, outs, op in keep:
            if name == 'DEQUANTIZE' and ins[0] in consts:
                consts[outs[0]] = consts[ins[0]].astype(np.float32)
        self._steps = []
        self._bufs = {}
        for name, ins, outs, op in keep:
            if name == 'DEQUANTIZE':
                if ins[0] in consts:
                    continue
                self._steps.append(('IDENTITY', ins[:1], outs, None))
                continue
            opts = op.BuiltinOptions()
            if name == 'CONV_2D':
                o = tflite.Conv2DOptions()
                o.Init(opts.Bytes, opts.Pos)
                w = consts[ins[1]].transpose(0, 3, 1, 2)  # OHWI -> OIHW
                self._reg(outs[0], 'w', w)
                if len(ins) > 2 and ins[2] >= 0:
                    self._reg(outs[0], 'b', consts[ins[2]])
                cfg = dict(
                    stride=(o.StrideH(), o.StrideW()),
                    dil=(o.DilationHFactor(), o.DilationWFactor()),
                    same=o.Padding() == 0,
                    act=o.FusedActivationFunction(),
                    groups=1,
                    k=w.shape[2:],
                )
                cfg['pad'] = _static_pad(cfg, shapes[ins[0]])
                self._steps.append(('CONV', ins[:1], outs, cfg))
            elif name == 'DEPTHWISE_CONV_2D':
                o = tflite.DepthwiseConv2DOptions()
                o.Init(opts.Bytes, opts.Pos)
                w = consts[ins[1]]  # 1,H,W,O
                w = w.transpose(3, 0, 1, 2)  # O,1,H,W
                self._reg(outs[0], 'w', w)
                if len(ins) > 2 and ins[2] >= 0:
                    self._reg(outs[0], 'b', consts[ins[2]])
                cin = shapes[ins[0]][3]
                cfg = dict(
                    stride=(o.StrideH(), o.StrideW()),
                    dil=(o.DilationHFactor(), o.DilationWFactor()),
                    same=o.Padding() == 0,
                    act=o.FusedActivationFunction(),
                    groups=cin,
                    k=w.shape[2:],
                )
                cfg['pad'] = _static_pad(cfg, shapes[ins[0]])
                self._steps.append(('CONV', ins[:1], outs, cfg))
            elif name == 'ADD':
                o = tflite.AddOptions()
                o.Init(opts.Bytes, opts.Pos)
                for j, idx in enumerate(ins):
                    if idx in consts:
                        self._reg(outs[0], f'c{j}', self._nchw(consts[idx]))
                self._steps.append(('ADD', ins, outs, dict(act=o.FusedActivationFunction())))
            elif name == 'PAD':
                p = consts[ins[1]].astype(int)  # NHWC [[b,a]...]
                if p[0].any():
                    raise NotImplementedError('PAD on batch')
                pad = (
                    int(p[2, 0]),
                    int(p[2, 1]),
                    int(p[1, 0]),
                    int(p[1, 1]),
                    int(p[3, 0]),
                    int(p[3, 1]),
                )
                self._steps.append(('PAD', ins[:1], outs, dict(pad=pad)))
            elif name == 'MAX_POOL_2D':
                o = tflite.Pool2DOptions()
                o.Init(opts.Bytes, opts.Pos)
                cfg = dict(
                    k=(o.FilterHeight(), o.FilterWidth()),
                    stride=(o.StrideH(), o.StrideW()),
                    same=o.Padding() == 0,
                    act=o.FusedActivationFunction(),
                    dil=(1, 1),
                )
                cfg['pad'] = _static_pad(cfg, shapes[ins[0]])
                self._steps.append(('MAXPOOL', ins[:1], outs, cfg))
            elif name == 'RESIZE_BILINEAR':
                o = tflite.ResizeBilinearOptions()
                o.Init(opts.Bytes, opts.Pos)
                size = tuple(int(v) for v in consts[ins[1]])
                cfg = dict(size=size, align=o.AlignCorners(), half=o.HalfPixelCenters())
                if not cfg['align'] and not cfg['half']:
                    raise NotImplementedError('legacy RESIZE_BILINEAR (no half-pixel centres)')
                self._steps.append(('RESIZE', ins[:1], outs, cfg))
            elif name == 'RESHAPE':
                self._steps.append(('RESHAPE', ins[:1], outs, dict(shape=shapes[outs[0]])))
            elif name == 'LOGISTIC':
                self._steps.append(('SIGMOID', ins[:1], outs, None))
            else:
                raise NotImplementedError(f'TFLite op {name} is not supported by tflite_torch')

    @staticmethod
    def _nchw(a):
        return a.transpose(0, 3, 1, 2) if a.ndim == 4 else a

    def _reg(self, out, key, arr):
        name = f't{out}_{key}'
        self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(arr, np.float32)))
        self._bufs[(out, key)] = name

    def _get(self, out, key):
        n = self._bufs.get((out, key))
        return getattr(self, n) if n else None

    def forward(self, x_nchw):
        """x: (N,3,H,W) float in the model's input range -> list of outputs (NCHW for rank-4)."""
        env = {self.input_index: x_nchw}
        for kind, ins, outs, cfg in self._steps:
            o = outs[0]
            if kind == 'CONV':
                x, (pt, pb, pl, pr) = env[ins[0]], cfg['pad']
                if pt == pb and pl == pr:
                    pad = (pt, pl)
                else:  # TFLite's asymmetric SAME case (ONNX: a Pad that .onnx_passes folds)
                    x, pad = F.pad(x, (pl, pr, pt, pb)), 0
                y = F.conv2d(
                    x,
                    self._get(o, 'w'),
                    self._get(o, 'b'),
                    cfg['stride'],
                    pad,
                    cfg['dil'],
                    cfg['groups'],
                )
                env[o] = _act(y, cfg['act'])
            elif kind == 'ADD':
                a = env[ins[0]] if ins[0] in env else self._get(o, 'c0')
                b = env[ins[1]] if ins[1] in env else self._get(o, 'c1')
                env[o] = _act(a + b, cfg['act'])
            elif kind == 'PAD':
                env[o] = F.pad(env[ins[0]], cfg['pad'])
            elif kind == 'MAXPOOL':
                x, (pt, pb, pl, pr) = env[ins[0]], cfg['pad']
                if pt or pb or pl or pr:
                    x = F.pad(x, (pl, pr, pt, pb), value=float('-inf'))
                env[o] = _act(F.max_pool2d(x, cfg['k'], cfg['stride']), cfg['act'])
            elif kind == 'RESIZE':
                env[o] = F.interpolate(
                    env[ins[0]],
                    size=cfg['size'],
                    mode='bilinear',
                    align_corners=bool(cfg['align']),
                )
            elif kind == 'RESHAPE':
                x = env[ins[0]]
                if x.dim() == 4:
                    x = x.permute(0, 2, 3, 1)
                shape = (x.shape[0],) + tuple(int(s) for s in cfg['shape'][1:])
                y = x.reshape(shape)
                env[o] = y.permute(0, 3, 1, 2) if y.dim() == 4 else y
            elif kind == 'SIGMOID':
                env[o] = torch.sigmoid(env[ins[0]])
            elif kind == 'IDENTITY':
                env[o] = env[ins[0]].float()
        return [env[i] for i in self.output_index]
