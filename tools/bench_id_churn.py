#!/usr/bin/env python3
"""Pipeline id churn on real videos (no ground truth): how many identities the tracker hands out.

For shared/data/videos/walk.small.mp4 and people.small.mp4: RTMDet-nano person boxes + BlazePose
(the default backend, CPU) + the appearance features of each embedder (colour, MobileNetV2) are
computed ONCE per video and cached in out/bench/churn/<video>.npz (recomputed when the video, the
detector threshold or this file's cache version changes). Then the tracker runs on every frame (no
subsampling: that would change the dynamics) for each embedder setting (none = boxes + pose cue,
color, mobilenet) and for our default TrackerConfig and the previous (DeepSORT-noise) defaults. The
tracker gets the video's image size (border rules) and the frame times i / fps. Reported per run:
distinct ids, ids reported for less than 1 s, id births per minute of video, and the embedder's
ms/frame (measured while building the cache; CPU, 2 cores shared with other jobs: noisy).

    .venv/bin/python tools/bench_id_churn.py [--out out/bench]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from poseflow_ros.paths import shared_dir
from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.types import TrackerInput
from video_cache import valid_cache, write_cache

VIDEOS = ('walk.small.mp4', 'people.small.mp4')
EMBEDDERS = ('none', 'color', 'mobilenet')
CACHE_VERSION = 1
DET_THRESHOLD = 0.25  # PipelineConfig default
# The tracker's first defaults, plain DeepSORT (its Kalman noise, n_init 3, no coasting, raw
# boxes), before they were tuned on the TUD "dev" seeds; reported as "ours_prev" for reference
PREVIOUS = dict(
    n_init=3,
    std_weight_position=1 / 20,
    std_weight_velocity=1 / 160,
    std_weight_measurement=1 / 20,
    lost_noise_scale=1.0,
    freeze_lost_size=False,
    coast_frames=0,
    output_filtered_box=False,
)


def build_cache(video: Path, path: Path) -> dict:
    """Compute detections, poses and both embeddings for every frame of ``video`` into an npz.

    Ragged arrays are flattened with a per-box frame index.
    """
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from poseflow_ros.track.embed import make_embedder
    from poseflow_ros.video import VideoReader

    pipe = PosePipeline.from_config(
        PipelineConfig(device='cpu', detector_score_threshold=DET_THRESHOLD)
    )
    embs = {'color': make_embedder('color'), 'mobilenet': make_embedder('mobilenet', device='cpu')}
    rd = VideoReader(video)
    pipe.warmup((rd.height, rd.width))
    cols = {k: [] for k in ('frame', 'boxes', 'scores', 'kps', 'kp_scores', 'color', 'mobilenet')}
    ms = {'detect': 0.0, 'pose': 0.0, 'color': 0.0, 'mobilenet': 0.0}
    n = 0
    t_start = time.time()
    for i, img in enumerate(rd):
        t0 = time.perf_counter()
        dets = pipe.detect(img)
        t1 = time.perf_counter()
        poses = pipe.pose.estimate(img, dets.boxes) if len(dets) else None
        t2 = time.perf_counter()
        ms['detect'] += (t1 - t0) * 1e3
        ms['pose'] += (t2 - t1) * 1e3
        k = len(dets)
        cols['frame'].append(np.full(k, i, np.int32))
        cols['boxes'].append(dets.boxes)
        cols['scores'].append(dets.scores)
        cols['kps'].append(poses.keypoints if k else np.zeros((0, 17, 2), np.float32))
        cols['kp_scores'].append(poses.scores if k else np.zeros((0, 17), np.float32))
        for name, e in embs.items():
            t3 = time.perf_counter()
            f = (
                e.embed(img, dets.boxes, cols['kps'][-1], cols['kp_scores'][-1])
                if k
                else np.zeros((0, e.dim), np.float32)
            )
            ms[name] += (time.perf_counter() - t3) * 1e3
            cols[name].append(np.asarray(f, np.float32).reshape(k, -1))
        n += 1
        if n % 100 == 0:
            print(f'[churn] {video.name}: {n} frames, {time.time() - t_start:.0f} s', flush=True)
    rd.close()
    meta = {
        'frames': n,
        'fps': rd.fps,
        'det_threshold': DET_THRESHOLD,
        'ms_per_frame': {k: v / max(1, n) for k, v in ms.items()},
    }
    return write_cache(path, video, CACHE_VERSION, cols, meta)


def get_cache(video: Path, out: Path) -> dict:
    path = out / 'churn' / (video.stem + '.npz')
    c = valid_cache(path, video, CACHE_VERSION, det_threshold=DET_THRESHOLD)
    if c is not None:
        return c
    print(
        f'[churn] computing detections, poses and embeddings for {video.name} (once; cached in '
        f'{path})',
        flush=True,
    )
    return build_cache(video, path)


def video_size(path) -> tuple:
    """(width, height) of a video file (the cache predates storing it)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    return size


def churn(c: dict, embedder: str, cfg: TrackerConfig) -> dict:
    n, fps = c['meta']['frames'], c['meta']['fps']
    size = video_size(c['meta']['video'])  # the tracker's image-border rules need it
    fr = c['frame']
    starts = np.searchsorted(fr, np.arange(n + 1))
    tr = Tracker(cfg)
    seen = {}
    t_total = 0.0
    for i in range(n):
        s = slice(starts[i], starts[i + 1])
        feats = c[embedder][s] if embedder != 'none' else None
        inp = TrackerInput(
            c['boxes'][s],
            c['scores'][s],
            c['kps'][s],
            c['kp_scores'][s],
            feats,
            image_size=size,
            stamp=i / fps,
        )
        t0 = time.perf_counter()
        outs = tr.update(inp)
        t_total += time.perf_counter() - t0
        for o in outs:
            seen[o.track_id] = seen.get(o.track_id, 0) + 1
    frames = np.array(list(seen.values()))
    minutes = n / fps / 60.0
    return {
        'distinct_ids': len(seen),
        'short_tracks_lt_1s': int((frames < fps).sum()) if len(frames) else 0,
        'id_births_per_min': len(seen) / minutes,
        'track_ms_per_frame': 1e3 * t_total / max(1, n),
        'embed_ms_per_frame': c['meta']['ms_per_frame'].get(embedder, 0.0),
    }


def run(out: Path) -> dict:
    vids = shared_dir() / 'data' / 'videos'
    res = {'runs': [], 'pipeline_ms_per_frame': {}}
    for v in VIDEOS:
        p = vids / v
        if not p.exists():
            print(f'[churn] missing {p}: skipped')
            continue
        c = get_cache(p, Path(out))
        res['pipeline_ms_per_frame'][v] = c['meta']['ms_per_frame']
        for cname, cfg in (('default', TrackerConfig()), ('previous', TrackerConfig(**PREVIOUS))):
            for e in EMBEDDERS:
                r = churn(c, e, cfg)
                res['runs'].append(
                    {
                        'video': v,
                        'config': cname,
                        'embedder': e,
                        'frames': c['meta']['frames'],
                        'fps': c['meta']['fps'],
                        **r,
                    }
                )
    print_table(res['runs'])
    return res


def print_table(runs):
    hdr = (
        f"{'video':17s} {'config':9s} {'embedder':10s} {'ids':>4s} {'<1s':>4s} "
        f"{'births/min':>10s} {'embed ms/f':>10s} {'track ms/f':>10s}"
    )
    print(hdr)
    print('-' * len(hdr))
    for r in runs:
        print(
            f"{r['video']:17s} {r['config']:9s} {r['embedder']:10s} {r['distinct_ids']:4d} "
            f"{r['short_tracks_lt_1s']:4d} {r['id_births_per_min']:10.1f} "
            f"{r['embed_ms_per_frame']:10.1f} {r['track_ms_per_frame']:10.2f}"
        )


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--out', default=str(Path(__file__).resolve().parent.parent / 'out' / 'bench'))
    a = ap.parse_args()
    res = run(Path(a.out))
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / 'id_churn.json').write_text(json.dumps(res, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
