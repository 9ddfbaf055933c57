"""Graph passes applied to the BlazePose port's ONNX export before a CPU runtime loads it.

The TorchScript exporter writes TFLite's SAME padding, its explicit PAD operators and the -inf
padding of its max pools as separate ``Pad`` nodes, their amounts computed by small constant
subgraphs. onnxruntime neither folds those subgraphs into constants before its layout passes nor
fuses such a ``Pad`` into the convolution after it, so each one runs as its own kernel and cuts the
blocked (NCHWc) layout of the convolutions around it: with the 7 of BlazePose-full, the ``Pad``
kernels and the layout reorders they cause were 20 % of onnxruntime's time per crop. An ONNX
``Conv`` and ``MaxPool`` take any (also asymmetric) padding as their own ``pads`` attribute, so
:func:`optimise` first folds the constant subgraphs (onnxruntime's basic level: constant folding
and redundant-node removal only, standard ONNX operators, nothing specific to this CPU) and then
moves each zero ``Pad`` into the ``Conv`` nodes that read it and each -inf ``Pad`` into its
``MaxPool``. The result computes exactly the same numbers (the same kernels on the same padded
values; checked bit for bit in ``test/test_onnx_passes.py``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np


def optimise(src: Path, dst: Path) -> int:
    """Write ``src`` with its constants folded and its foldable ``Pad`` nodes folded, to ``dst``.

    Returns how many ``Pad`` nodes were folded. ``dst`` appears whole or not at all (written to a
    temporary file first: two processes may optimise at once).
    """
    import onnx
    import onnxruntime as ort

    tmp = Path(f'{dst}.{os.getpid()}.part')
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(tmp)
    so.log_severity_level = 3  # its notes on the initializers it drops are not news
    ort.InferenceSession(str(src), so, providers=['CPUExecutionProvider'])
    model = onnx.load(str(tmp))
    folded = fold_pads(model)
    drop_unused_initializers(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    return folded


def _const(inits: dict, name: str):
    """Return the value of the initializer ``name``, or None when ``name`` is computed."""
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name]) if name in inits else None


def fold_pads(model) -> int:
    """Fold each constant, spatial-only ``Pad`` into the ``Conv`` / ``MaxPool`` nodes reading it.

    A ``Pad`` is folded when its mode is constant, its amounts are constants, non-negative and
    zero on the batch and channel axes, it is not a graph output and every node reading it is a
    ``Conv`` (pad value 0) or a ``MaxPool`` (pad value -inf, which is how ``MaxPool`` pads).
    Modifies ``model`` in place; returns the number of ``Pad`` nodes removed.
    """
    from onnx import helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    readers = defaultdict(list)
    for node in g.node:
        for name in node.input:
            readers[name].append(node)
    outputs = {o.name for o in g.output}
    removed = []
    for node in g.node:
        if node.op_type != 'Pad' or node.output[0] in outputs:
            continue
        mode = [a.s for a in node.attribute if a.name == 'mode']
        if mode and mode[0] != b'constant':
            continue
        pads = _const(inits, node.input[1]) if len(node.input) > 1 else None
        if pads is None:
            continue
        pads = pads.astype(np.int64).reshape(-1)
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            v = _const(inits, node.input[2])
            if v is None:
                continue
            value = float(np.asarray(v).reshape(()))
        rank = len(pads) // 2
        begin, end = pads[:rank], pads[rank:]
        if rank < 3 or begin[:2].any() or end[:2].any() or (pads < 0).any():
            continue
        users = readers[node.output[0]]
        if not users or not all(
            u.input[0] == node.output[0] and list(u.input).count(node.output[0]) == 1
            for u in users
        ):
            continue
        if not all(
            (u.op_type == 'Conv' and value == 0.0) or (u.op_type == 'MaxPool' and value == -np.inf)
            for u in users
        ):
            continue
        auto = [a.s for u in users for a in u.attribute if a.name == 'auto_pad']
        if any(a not in (b'', b'NOTSET') for a in auto):
            continue
        spatial = [int(p) for p in begin[2:]] + [int(p) for p in end[2:]]  # ONNX pads order
        for u in users:
            old = [list(a.ints) for a in u.attribute if a.name == 'pads']
            cur = old[0] if old else [0] * len(spatial)
            for a in [a for a in u.attribute if a.name == 'pads']:
                u.attribute.remove(a)
            new = [c + s for c, s in zip(cur, spatial)]
            u.attribute.append(helper.make_attribute('pads', new))
            u.input[0] = node.input[0]
        removed.append(node)
    for node in removed:
        g.node.remove(node)
    return len(removed)


def drop_unused_initializers(model) -> None:
    """Remove the initializers no node reads any more (the folded pads' amounts)."""
    g = model.graph
    used = {name for node in g.node for name in node.input} | {o.name for o in g.output}
    for init in [i for i in g.initializer if i.name not in used]:
        g.initializer.remove(init)
