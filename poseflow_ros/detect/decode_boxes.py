"""Box decoding and NMS of the RTMDet end2end graph, done outside the graph (torch runtime).

The mmdeploy "end2end" graph is the network followed by box decoding and NonMaxSuppression. The
torch detector runs the network up to the per-level head outputs (:func:`find_head_outputs`: class
logits ``(1, C, H, W)`` and box distances ``(1, 4, H, W)``, already multiplied by the stride in the
graph) and does the rest here, as the graph does it:

* point priors ``(col * stride, row * stride)`` (offset 0, :func:`make_priors`), boxes
  ``(px - l, py - t, px + r, py + b)`` (not clipped), sigmoid scores;
* candidates scoring above the graph's NMS candidate threshold, at most ``pre_top_k`` anchors (by
  their best class score), greedy per-class NMS (IoU as onnxruntime computes it, at most
  ``max_per_class`` per class), the ``keep_top_k`` best overall (:func:`decode`).

The settings are read from the graph itself (:func:`graph_nms_settings`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..geometry import iou_matrix
from .onnx_graph import node_attrs


def find_head_outputs(graph) -> Tuple[List[str], List[str]]:
    """Find the per-level head outputs: (class-logit tensors, box-distance tensors).

    One tensor per level each, in the graph's concatenation order.

    The decode starts where each head output goes through Transpose(0,2,3,1) + Reshape into a
    Concat over the levels; the Concat that feeds a Sigmoid holds the class logits, the other the
    boxes.
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
            and list(node_attrs(tr)['perm']) == [0, 2, 3, 1]
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


@dataclass(frozen=True)
class NmsSettings:
    """The end2end graph's post-processing settings.

    ``candidate_threshold`` is the graph's NonMaxSuppression score threshold (0.05 in the shipped
    model): boxes at or below it never enter NMS. It is not the detector's ``score_threshold`` (the
    user's, 0.25 by default), which :func:`decode` takes as ``min_score``.
    """

    pre_top_k: int = 5000
    keep_top_k: int = 100
    max_per_class: int = 200
    iou_threshold: float = 0.6
    candidate_threshold: float = 0.05


def graph_nms_settings(graph, model_dir: Path) -> NmsSettings:
    """Read the NMS settings the end2end graph uses.

    NonMaxSuppression's constant inputs (candidate score and IoU thresholds, max boxes per class)
    and pre/keep top-k from mmdeploy's detail.json (the graph's TopK sizes; 5000 and 100 for the
    shipped model). detail.json's own iou_threshold (0.5) is NOT what the graph uses (0.6, from the
    model's test_cfg), hence the graph is read first.
    """
    from onnx import numpy_helper

    p = NmsSettings().__dict__.copy()
    detail = model_dir / 'detail.json'
    if detail.is_file():
        pp = json.loads(detail.read_text()).get('codebase_config', {}).get('post_processing', {})
        p['pre_top_k'] = int(pp.get('pre_top_k', p['pre_top_k']))
        p['keep_top_k'] = int(pp.get('keep_top_k', p['keep_top_k']))
    values = {
        n.output[0]: numpy_helper.to_array(node_attrs(n)['value'])
        for n in graph.node
        if n.op_type == 'Constant'
    }
    values.update({i.name: numpy_helper.to_array(i) for i in graph.initializer})
    nms_nodes = [n for n in graph.node if n.op_type == 'NonMaxSuppression']
    if len(nms_nodes) == 1:
        ins = list(nms_nodes[0].input) + [''] * 5
        for k, name, cast in (
            (2, 'max_per_class', int),
            (3, 'iou_threshold', float),
            (4, 'candidate_threshold', float),
        ):
            if ins[k] in values:
                p[name] = cast(values[ins[k]].reshape(-1)[0])
        if node_attrs(nms_nodes[0]).get('center_point_box', 0):
            raise NotImplementedError('NonMaxSuppression with center_point_box=1')
    return NmsSettings(**p)


def make_priors(shapes, h: int, w: int) -> torch.Tensor:
    """Make the (N, 2) float32 x, y point priors (col * stride, row * stride).

    For the levels with feature maps ``shapes``, in the order the head outputs are flattened (as
    the graph's Range/Expand nodes).
    """
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


def decode(
    heads: Sequence[torch.Tensor],
    priors: torch.Tensor,
    nms_settings: NmsSettings,
    min_score: float = 0.0,
) -> Tuple[np.ndarray, np.ndarray]:
    """Decode per-level head outputs to (dets (K,5), labels (K,)) as the end2end graph does.

    ``heads``: the class logits of every level, then the box distances of every level. The result
    is in the network-input frame, score-sorted, at most keep_top_k (without the graph's zero-score
    padding row).

    ``min_score`` > 0 drops candidates scoring below it before NMS: that leaves every box scoring
    at least min_score unchanged (greedy NMS only lets higher scores suppress lower ones, and the
    top-k caps count in score order) and saves the NMS work on low-score boxes.
    """
    p = nms_settings
    n_lvl = len(heads) // 2
    num_classes = heads[0].shape[1]
    logits = torch.cat([t.permute(0, 2, 3, 1).reshape(-1, num_classes) for t in heads[:n_lvl]])
    dist = torch.cat([t.permute(0, 2, 3, 1).reshape(-1, 4) for t in heads[n_lvl:]])
    scores = logits.sigmoid()
    # candidates: anchors whose best class passes the candidate threshold, at most pre_top_k of
    # them (same set as the graph's TopK-then-threshold: every anchor above the threshold outranks
    # the rest)
    best = scores.max(1).values
    idx = torch.nonzero((best > p.candidate_threshold) & (best >= min_score)).squeeze(1)
    if idx.numel() > p.pre_top_k:
        idx = idx[best[idx].topk(p.pre_top_k).indices]
    pri, d = priors[idx], dist[idx]
    boxes = torch.cat([pri - d[:, :2], pri + d[:, 2:]], 1)
    cand = torch.cat([boxes, scores[idx]], 1).cpu().numpy()  # the one device -> host copy
    boxes, scores = cand[:, :4], cand[:, 4:]
    dets, labels = [], []
    for c in range(num_classes):  # per-class NMS (ONNX semantics)
        m = np.flatnonzero((scores[:, c] > p.candidate_threshold) & (scores[:, c] >= min_score))
        keep = m[nms(boxes[m], scores[m, c], p.iou_threshold, p.max_per_class)]
        dets.append(np.concatenate([boxes[keep], scores[keep, c : c + 1]], 1))
        labels.append(np.full(len(keep), c, np.int64))
    dets, labels = np.concatenate(dets), np.concatenate(labels)
    order = np.argsort(-dets[:, 4], kind='stable')[: p.keep_top_k]
    return dets[order].astype(np.float32), labels[order]


def self_iou(boxes: np.ndarray) -> np.ndarray:
    """(M, M) IoU as onnxruntime's NonMaxSuppression computes it.

    Corners taken as min/max of the two coordinates (then the pairwise IoU, which gives 0 for no
    overlap or no area).
    """
    b = np.concatenate(
        [np.minimum(boxes[:, :2], boxes[:, 2:]), np.maximum(boxes[:, :2], boxes[:, 2:])], 1
    )
    return iou_matrix(b, b)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Greedy NMS as onnxruntime's NonMaxSuppression.

    Highest score first, a box is dropped when its IoU with a kept one is > iou_threshold; at most
    max_keep. Returns kept indices, best first. The IoU matrix of the (few) candidates is computed
    once; the greedy pass is a loop over rows.
    """
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
