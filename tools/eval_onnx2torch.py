#!/usr/bin/env python3
r"""Compare onnx2torch (PyPI) with our ONNX -> torch executor and onnxruntime on RTMDet-nano.

The torch detector runs the end2end ONNX's network with
:class:`poseflow_ros.detect.onnx_graph.OnnxNet` and decodes the boxes itself
(:mod:`poseflow_ros.detect.decode_boxes`). This compares, in one process with the same thread count
for all:

* **exactness** against onnxruntime: max abs difference of the raw per-level head outputs, and of
  the final person boxes / scores on real frames (MOT17-mini and walk.small.mp4), for our executor
  and for onnx2torch (its network + our decoding, and its conversion of the whole end2end graph,
  NMS included);
* **CPU speed** at each input size (network forward alone, and the whole detection), median ms;
* **dynamic input sizes**: each model is converted once and run at every size;
* **CUDA-graph capture**: tried when a GPU is visible; otherwise the converted modules whose
  forward copies a tensor to the host on every call (``.tolist()`` / ``.item()``, a sync that a
  CUDA-graph capture rejects) are listed from their source.

onnx2torch is not a dependency of the project (it pulls in torchvision and, from PyPI, a CUDA build
of torch). Run it from a separate environment that has it, with the project on the path::

    python3.11 -m venv /tmp/o2tv && /tmp/o2tv/bin/pip install onnx2torch torchvision
    echo $PWD/.venv/lib/python3.11/site-packages > /tmp/o2tv/lib/python3.11/site-packages/main.pth
    PYTHONPATH=$PWD /tmp/o2tv/bin/python tools/eval_onnx2torch.py [--threads 1] \
        [--sizes 320 448 640]

Without onnx2torch it says so and compares our executor with onnxruntime only.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def load_frames(n_video: int):
    """(name, BGR image).

    Frames 1-4 of each MOT17-mini sequence and every 30th of walk.small.mp4.
    """
    import cv2

    from poseflow_ros.paths import shared_dir

    data = shared_dir() / 'data'
    frames = []
    for seq in sorted((data / 'mot17-mini').glob('MOT17-*')):
        for k in range(1, 5):
            img = cv2.imread(str(seq / 'img1' / f'{k:06d}.jpg'))
            if img is not None:
                frames.append((f'{seq.name}/{k}', img))
    cap = cv2.VideoCapture(str(data / 'videos' / 'walk.small.mp4'))
    i = 0
    while len([f for f in frames if f[0].startswith('walk')]) < n_video:
        ok, img = cap.read()
        if not ok:
            break
        if i % 30 == 0:
            frames.append((f'walk/{i}', img))
        i += 1
    if not frames:
        sys.exit(f'no frames under {data} (set POSEFLOW_SHARED)')
    return frames


MATCH_PX = 0.5  # a box of one list with no box of the other within this is "unmatched"


def box_diff(a, b):
    """(max coordinate difference, max score difference, unmatched boxes) of two Detections.

    Each box of ``a`` is paired with the nearest box of ``b`` (order-free); the differences are
    over the pairs within MATCH_PX, the count is of the boxes of either list without such a pair (a
    greedy NMS decision at IoU = its threshold that float rounding flips keeps one box instead of
    another).
    """
    if not len(a) or not len(b):
        return 0.0, 0.0, len(a) + len(b)
    dist = np.abs(a.boxes[:, None] - b.boxes[None]).max(-1)
    j = dist.argmin(1)
    ok = dist[np.arange(len(j)), j] <= MATCH_PX
    unmatched = int((~ok).sum() + (dist.min(0) > MATCH_PX).sum())
    if not ok.any():
        return 0.0, 0.0, unmatched
    return (
        float(dist[np.arange(len(j)), j][ok].max()),
        float(np.abs(a.scores[ok] - b.scores[j[ok]]).max()),
        unmatched,
    )


def host_syncing_modules(module) -> dict:
    """Count the converted submodules (by class) that read tensors on the host.

    Those whose code calls .tolist() / .item() or makes a shape from the data (.nonzero): each such
    call waits for the device, which a CUDA-graph capture does not allow.
    """
    found = {}
    for m in module.modules():
        try:
            src = inspect.getsource(type(m))
        except (TypeError, OSError):
            continue
        if any(p in src for p in ('.tolist()', '.item()', '.nonzero(')):
            found[type(m).__name__] = found.get(type(m).__name__, 0) + 1
    return found


def try_capture(fn, x) -> str:
    """'ok' when ``fn(x)`` can be captured into a CUDA graph, else the error."""
    import torch

    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(2):
                fn(x)
        torch.cuda.current_stream().wait_stream(side)
        g = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(g):
            fn(x)
        g.replay()
        return 'ok'
    except Exception as e:  # noqa: BLE001 -- report whatever the capture raised
        return f'{type(e).__name__}: {str(e).splitlines()[0][:90]}'


def main(argv=None) -> int:
    """Print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--threads', type=int, default=1, help='torch and onnxruntime threads')
    ap.add_argument('--sizes', type=int, nargs='+', default=[320, 448, 640])
    ap.add_argument('--video-frames', type=int, default=4, help='frames of walk.small.mp4')
    ap.add_argument('--repeat', type=int, default=3, help='timed passes over the frames')
    ap.add_argument('--score-threshold', type=float, default=0.05)
    a = ap.parse_args(argv)
    try:
        import onnx2torch
    except ImportError as e:
        print(f'onnx2torch is not installed ({e}): its columns stay empty (see this doc)')
        onnx2torch = None
    import onnx
    import onnxruntime as ort
    import torch

    from poseflow_ros import models
    from poseflow_ros.detect import make_detector
    from poseflow_ros.detect.decode_boxes import find_head_outputs

    torch.set_num_threads(a.threads)
    path = models.model_path('rtmdet_nano_person')
    full = onnx.load(str(path))
    cls_heads, reg_heads = find_head_outputs(full.graph)
    heads = cls_heads + reg_heads
    inferred = onnx.shape_inference.infer_shapes(full)  # the Extractor needs the value infos
    net_only = onnx.utils.Extractor(inferred).extract_model([full.graph.input[0].name], heads)

    so = ort.SessionOptions()
    so.add_session_config_entry('session.intra_op.allow_spinning', '0')
    so.intra_op_num_threads = a.threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    ort_net = ort.InferenceSession(net_only.SerializeToString(), so, ['CPUExecutionProvider'])

    o2t_net = o2t_full = None
    t_conv_net = t_conv_full = 0.0
    full_error = ''
    if onnx2torch is not None:
        t0 = time.perf_counter()
        o2t_net = onnx2torch.convert(net_only).eval()
        t_conv_net = time.perf_counter() - t0
        # our executor runs channels-last on the CPU (faster convolutions): the same for onnx2torch
        o2t_net_cl = copy.deepcopy(o2t_net).to(memory_format=torch.channels_last)
        try:
            t0 = time.perf_counter()
            o2t_full = onnx2torch.convert(full).eval()
            t_conv_full = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 -- reported in the table
            full_error = f'{type(e).__name__}: {e}'

    frames = load_frames(a.video_frames)
    kw = dict(score_threshold=a.score_threshold, num_threads=a.threads, max_detections=100)
    from importlib.metadata import PackageNotFoundError, version

    try:
        o2t_version = version('onnx2torch')
    except PackageNotFoundError:
        o2t_version = 'absent'
    print(
        f'onnx2torch {o2t_version}, torch {torch.__version__}, onnxruntime {ort.__version__}; '
        f'threads {a.threads}; '
        f'{len(frames)} frames ({", ".join(sorted({n.split("/")[0] for n, _ in frames}))}); '
        f'score_threshold {a.score_threshold}; conversion {t_conv_net:.1f} s (network), '
        f'{t_conv_full:.1f} s (end2end)'
    )
    if full_error:
        print(f'onnx2torch could not convert the end2end graph: {full_error}')
    rows = []
    for size in a.sizes:
        ort_det = make_detector('onnxruntime', input_size=size, **kw)
        tor_det = make_detector('torch', input_size=size, **kw)
        res = {k: [] for k in ('ours', 'o2t')}  # raw head differences to onnxruntime
        boxes = {k: [] for k in ('ours', 'o2t_net', 'o2t_full', 'n')}
        times = {
            k: []
            for k in ('ort_net', 'ours_net', 'o2t_net', 'o2t_net_cl', 'ort', 'ours', 'o2t_full')
        }
        errors = {}

        def timed(key, fn, *args):
            t = time.perf_counter()
            out = fn(*args)
            times[key].append(time.perf_counter() - t)  # only when it ran (errors are reported)
            return out

        def full_detect(img):  # onnx2torch's end2end graph, our pre- and post-processing
            xf, sc = ort_det.preprocess(img)
            dets, labels = o2t_full(torch.from_numpy(xf))
            return ort_det.to_detections(dets[0].numpy(), labels[0].numpy(), sc, img.shape)

        for rep in range(a.repeat):
            for name, img in frames:
                x, scale = ort_det.preprocess(img)
                xt = torch.from_numpy(x)
                with torch.inference_mode():
                    ref = timed('ort_net', ort_net.run, heads, {ort_net.get_inputs()[0].name: x})
                    ours = timed('ours_net', tor_det.forward, x)
                    o2t = None
                    if o2t_net is not None:
                        try:
                            o2t = timed('o2t_net', o2t_net, xt)
                            xcl = xt.contiguous(memory_format=torch.channels_last)
                            timed('o2t_net_cl', o2t_net_cl, xcl)
                        except Exception as e:  # noqa: BLE001 -- e.g. a size it cannot take
                            errors['o2t_net'] = f'{type(e).__name__}: {e}'
                    d_ort = timed('ort', ort_det.detect, img)
                    d_ours = timed('ours', tor_det.detect, img)
                    d_full = None
                    if o2t_full is not None:
                        try:
                            d_full = timed('o2t_full', full_detect, img)
                        except Exception as e:  # noqa: BLE001 -- reported, not timed
                            errors['o2t_full'] = f'{type(e).__name__}: {e}'
                if rep:
                    continue  # exactness once; the later passes only time
                for r, o in zip(ref, ours):
                    res['ours'].append(float(np.abs(r - o.numpy()).max()))
                boxes['ours'].append(box_diff(d_ort, d_ours))
                boxes['n'].append(d_ort)
                if o2t is not None:
                    o2t = list(o2t)
                    for r, o in zip(ref, o2t):
                        res['o2t'].append(float(np.abs(r - o.numpy()).max()))
                    with torch.inference_mode():
                        # our decoding (priors of this input shape: forward() just ran on it)
                        dets, labels = tor_det.decode(o2t, a.score_threshold)
                    boxes['o2t_net'].append(
                        box_diff(d_ort, ort_det.to_detections(dets, labels, scale, img.shape))
                    )
                if d_full is not None:
                    boxes['o2t_full'].append(box_diff(d_ort, d_full))
        rows.append((size, res, boxes, times, errors))

    def med(v):
        return f'{1e3 * np.median(v):7.1f}' if v else '      -'

    def worst(v, k):
        return max(b[k] for b in v) if v else float('nan')

    print()
    n_boxes = {size: sum(len(d) for d in b['n']) for size, _, b, _, _ in rows}
    print(
        'exactness against onnxruntime (max abs difference over all frames; head: raw outputs in '
        f'network-input pixels / logits; box: px, pairs within {MATCH_PX} px; unmatched: boxes of '
        'either list without a pair)'
    )
    print(
        f'{"input":>5}  {"head ours":>10} {"head o2t":>10}  '
        f'{"box ours":>9} {"box o2t+dec":>11} {"box o2t-e2e":>11}  '
        f'{"score ours":>10} {"score o2t+dec":>13}  {"unmatched ours/o2t+dec/o2t-e2e":>31}'
    )
    for size, res, boxes, _, errors in rows:
        counts = '/'.join(
            str(int(sum(b[2] for b in boxes[k]))) if boxes[k] else '-'
            for k in ('ours', 'o2t_net', 'o2t_full')
        )
        print(
            f'{size:5d}  {max(res["ours"]):10.2e} '
            f'{max(res["o2t"]) if res["o2t"] else float("nan"):10.2e}  '
            f'{worst(boxes["ours"], 0):9.4f} {worst(boxes["o2t_net"], 0):11.4f} '
            f'{worst(boxes["o2t_full"], 0):11.4f}  {worst(boxes["ours"], 1):10.2e} '
            f'{worst(boxes["o2t_net"], 1):13.2e}  {counts:>31}'
        )
        print(f'       ({n_boxes[size]} onnxruntime boxes over the frames)')
        for k, e in errors.items():
            print(f'       {k} at {size}: {e[:150]}')
    print()
    print(f'CPU time per frame, median ms ({a.threads} thread(s), {a.repeat} passes, interleaved)')
    print(
        f'{"input":>5}  {"net ort":>8} {"net ours":>8} {"net o2t":>8} {"o2t NHWC":>8}   '
        f'{"detect ort":>10} {"detect ours":>11} {"detect o2t-e2e":>14}'
    )
    for size, _, _, t, _ in rows:
        print(
            f'{size:5d}  {med(t["ort_net"]):>8} {med(t["ours_net"]):>8} {med(t["o2t_net"]):>8} '
            f'{med(t["o2t_net_cl"]):>8}   '
            f'{med(t["ort"]):>10} {med(t["ours"]):>11} {med(t["o2t_full"]):>14}'
        )
    print()
    sizes = ', '.join(map(str, a.sizes))
    for key, what in (('o2t_net', 'onnx2torch network'), ('o2t_full', 'onnx2torch end2end')):
        if (o2t_net if key == 'o2t_net' else o2t_full) is None:
            continue
        failed = [str(r[0]) for r in rows if key in r[4]]
        print(
            f'dynamic input sizes, {what} (converted once): '
            + (f'failed at {", ".join(failed)} (errors above)' if failed else f'ran at {sizes}')
        )
    if onnx2torch is not None:
        sync_net = host_syncing_modules(o2t_net)
        sync_full = host_syncing_modules(o2t_full) if o2t_full is not None else {}
        print(
            'onnx2torch modules that read tensors on the host per call (.tolist() / .item() / '
            f'.nonzero: no CUDA-graph capture): network {sync_net or "none"}; '
            f'end2end {sync_full or "none"}'
        )
    if torch.cuda.is_available():
        x = torch.zeros((1, 3, a.sizes[0], a.sizes[0]), device='cuda')
        tor_cuda = make_detector('torch', device='cuda', input_size=a.sizes[0], cuda_graph=True)
        print(f'CUDA graph capture: ours {"ok" if tor_cuda._graph is not None else "failed"}')
        if o2t_net is not None:
            print(f'  onnx2torch network {try_capture(o2t_net.cuda(), x)}')
        if o2t_full is not None:
            print(f'  onnx2torch end2end {try_capture(o2t_full.cuda(), x)}')
    else:
        print('CUDA graph capture: not tried (no GPU visible to torch)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
