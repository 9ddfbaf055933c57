#!/usr/bin/env python3
"""Time the tracker per frame.

The association (cost matrices, gating, cascade, all three assignment stages;
``Tracker.association_ms``) and the whole ``Tracker.update`` (plus Kalman predict/update,
lifecycle, galleries and building the outputs).

Synthetic scene: P people as boxes moving at constant velocity with a little jitter, bouncing
inside a 1280x720 image (its size and 30 Hz stamps are given, so the border rules and keypoint
smoothing run); 5 % of detections dropped, one low-score detection per frame. Embedding extraction
is not included (features, when enabled, are given as fixed random unit vectors plus noise).

    .venv/bin/python tools/bench_association.py [--frames 400] [--features 0|128|1280] [--pose]
"""

import argparse
import time

import numpy as np

from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.types import TrackerInput


def scene(n_people: int, n_frames: int, dim: int, pose: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    W, H = 1280.0, 720.0
    size = rng.uniform(40, 90, n_people)
    wh = np.stack([size * 0.45, size], 1)
    pos = rng.uniform([50, 50], [W - 100, H - 120], (n_people, 2))
    vel = rng.uniform(-4, 4, (n_people, 2))
    emb = rng.normal(size=(n_people, max(dim, 1)))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    template = rng.uniform(0.1, 0.9, (17, 2))
    frames = []
    for _ in range(n_frames):
        pos += vel
        for k in range(2):
            out = (pos[:, k] < 0) | (pos[:, k] + wh[:, k] > (W, H)[k])
            vel[out, k] *= -1
        boxes = np.concatenate([pos, pos + wh], 1) + rng.normal(0, 1.0, (n_people, 4))
        keep = rng.random(n_people) > 0.05
        scores = rng.uniform(0.6, 0.95, n_people)
        scores[rng.integers(n_people)] = 0.3
        b, s = boxes[keep].astype(np.float32), scores[keep].astype(np.float32)
        kw = {}
        if dim:
            f = emb[keep] + rng.normal(0, 0.3 / np.sqrt(dim), (keep.sum(), dim))
            kw['features'] = (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
        if pose:
            kw['keypoints'] = (
                b[:, None, :2] + template[None] * (b[:, None, 2:] - b[:, None, :2])
            ).astype(np.float32)
            kw['keypoint_scores'] = np.full((len(b), 17), 0.9, np.float32)
        frames.append(
            TrackerInput(b, s, image_size=(int(W), int(H)), stamp=len(frames) / 30.0, **kw)
        )
    return frames


def bench(n_people: int, n_frames: int, dim: int, pose: bool, **cfg) -> float:
    frames = scene(n_people, n_frames, dim, pose)
    tr = Tracker(TrackerConfig(**cfg))
    for f in frames[:30]:  # warm-up, tracks confirmed
        tr.update(f)
    t, ta = [], []
    for f in frames[30:]:
        t0 = time.perf_counter()
        tr.update(f)
        t.append(time.perf_counter() - t0)
        ta.append(tr.association_ms)
    return float(np.median(ta)), float(np.mean(ta)), float(np.median(t)) * 1e3, len(tr)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--frames', type=int, default=400)
    ap.add_argument(
        '--features', type=int, default=None, help='feature dim (default: run 0, 128, 1280)'
    )
    ap.add_argument('--pose', action='store_true', help='also give keypoints (only this setting)')
    a = ap.parse_args()
    dims = [a.features] if a.features is not None else [0, 128, 1280]
    poses = [a.pose] if a.pose or a.features is not None else [False, True]
    for dim in dims:
        for pose in poses:
            for n in (10, 50):
                amed, amean, umed, live = bench(n, a.frames, dim, pose)
                print(
                    f'{n:3d} tracks  features={dim:<5d} pose={str(pose):5s}  association: '
                    f'median {amed:.3f} mean {amean:.3f} ms/frame | whole update(): median '
                    f'{umed:.3f} ms/frame  ({live} live tracks)'
                )


if __name__ == '__main__':
    main()
