#!/usr/bin/env python3
r"""Paired A/B of pipeline settings on a shared, noisy CPU, frame by frame.

Every frame of a video goes through each configuration in turn (the order rotates per frame), so
all of them see the same load; a change of load between runs, which decides a sequential A/B on a
busy 2-core machine, cancels out here. Caveat: the configurations share one process, so a runtime
whose threads keep busy after a call (OpenVINO) also slows the others here.

Each configuration is its own PosePipeline (its own tracks and ROI memory), one stage after another
(overlap cannot be paired this way: see tools/bench_pipeline.py). Prints per configuration the mean
ms per frame, the FPS it implies, p50/p99, and the median of the per-frame time ratios against the
first configuration; writes out/bench/paired.json.

    .venv/bin/python tools/bench_paired.py \
        sequential:pose_runtime=onnxruntime,onnx_passes=false passes:pose_runtime=onnxruntime \
        openvino:pose_runtime=openvino \
        openvino+interval3:pose_runtime=openvino,detection_interval=3 [--frames 300]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseflow_ros.paths import REPO_ROOT, shared_dir  # noqa: E402


# not a PipelineConfig field: onnx_passes=false loads BlazePose's ONNX export as the exporter wrote
# it (the pose stage before .pose.onnx_passes), for the reference of tools/bench_pipeline.py
ESTIMATOR_KEYS = ('onnx_passes',)


def parse_config(spec: str):
    """'name:key=value,key=value' -> (name, overrides); values are YAML scalars.

    The keys are PipelineConfig fields, or one of ESTIMATOR_KEYS.
    """
    import yaml

    name, _, rest = spec.partition(':')
    kw = {}
    for item in filter(None, rest.split(',')):
        k, _, v = item.partition('=')
        kw[k.strip()] = yaml.safe_load(v)
    return name, kw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        'configs', nargs='+', help='name:key=value,... (PipelineConfig fields, onnx_passes)'
    )
    ap.add_argument('--video', default=str(shared_dir() / 'data' / 'videos' / 'walk.small.mp4'))
    ap.add_argument('--frames', type=int, default=0, help='first N frames (0 = all)')
    ap.add_argument('--warm', type=int, default=5, help='frames left out of the statistics')
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'bench' / 'paired.json'))
    a = ap.parse_args(argv)
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from poseflow_ros.types import Frame
    from poseflow_ros.video import VideoReader

    configs = [parse_config(s) for s in a.configs]
    pipes = []
    for name, kw in configs:
        cfg = {k: v for k, v in kw.items() if k not in ESTIMATOR_KEYS}
        p = PosePipeline.from_config(PipelineConfig(**dict({'device': 'cpu'}, **cfg)))
        if 'onnx_passes' in kw:
            p.pose.set_onnx_passes(bool(kw['onnx_passes']))
        p.warmup()
        pipes.append(p)
    reader = VideoReader(a.video)
    ms = np.full((0, len(pipes)), np.nan)
    rows = []
    load0 = os.getloadavg()
    for i, img in enumerate(reader):
        if a.frames and i >= a.frames:
            break
        row = np.zeros(len(pipes))
        for k in range(len(pipes)):
            j = (i + k) % len(pipes)  # rotate who goes first: no configuration always runs warm
            t = time.perf_counter()
            pipes[j].process(Frame(img, i / reader.fps, 'cam', i))
            row[j] = (time.perf_counter() - t) * 1e3
        rows.append(row)
    ms = np.asarray(rows)[a.warm :]
    load1 = os.getloadavg()
    report = {
        'video': Path(a.video).name,
        'frames': int(len(ms)),
        'load_average_start': load0,
        'load_average_end': load1,
        'configs': [],
    }
    print(
        f'{Path(a.video).name}, {len(ms)} frames, each through every configuration in turn; load '
        f'{load0[0]:.2f} -> {load1[0]:.2f}'
    )
    for j, (name, kw) in enumerate(configs):
        col = ms[:, j]
        r = {
            'name': name,
            'settings': kw,
            'mean_ms': float(col.mean()),
            'fps': float(1000.0 / col.mean()),
            'p50_ms': float(np.percentile(col, 50)),
            'p99_ms': float(np.percentile(col, 99)),
            'speedup_vs_first': float(ms[:, 0].mean() / col.mean()),
            'median_paired_ratio': float(np.median(ms[:, 0] / col)),
        }
        report['configs'].append(r)
        print(
            f'  {name:28s} {r["mean_ms"]:6.1f} ms/frame = {r["fps"]:5.1f} FPS  '
            f'p50 {r["p50_ms"]:6.1f}'
            f'  p99 {r["p99_ms"]:6.1f}  x{r["speedup_vs_first"]:.2f} vs {configs[0][0]} '
            f'(median per-frame ratio {r["median_paired_ratio"]:.2f})',
            flush=True,
        )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
