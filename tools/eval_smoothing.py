#!/usr/bin/env python3
"""Keypoint smoothing (One Euro filter in the tracker): jitter and lag on the shared videos.

Person boxes (RTMDet-nano) and poses (the default BlazePose backend and crop mode) of the first
``--frames`` frames of shared/data/videos/walk.small.mp4 and people.small.mp4 are computed once on
the CPU by the real pipeline (``PosePipeline.process`` with the default PipelineConfig, so temporal
crops follow the tracks) and cached in out/eval/smoothing_cache/<video>.npz (rebuilt when the
video, the frame count or the pose settings change). The smoothing never feeds back into detection,
crops or association, so the tracker (default TrackerConfig apart from the smoothing settings) then
replays the cached raw detections and poses with the frame times ``index / fps`` for: smoothing off
(the raw keypoints) and several (min_cutoff, beta) sets. Measured on the reported,
measurement-backed track keypoints:

- **jitter**: mean |x(t+1) - 2 x(t) + x(t-1)| in pixels (frame-to-frame acceleration, the 2D norm)
  over keypoints whose score is >= ``--score`` in all three frames of the same track, consecutive
  frames;
- **lag**: per track and joint (wrists, ankles) over runs of >= ``--min-run`` consecutive confident
  frames, whose x spans >= 20 px, the delay of the smoothed x(t) behind the raw x(t): the shift
  (0.05-frame steps, raw linearly interpolated) that best aligns the two, i.e. the
  cross-correlation peak; mean over runs weighted by run length, in frames and ms;
- **err**: mean |smoothed - raw| in pixels on the same confident keypoints (how far the filter
  moves them).

    .venv/bin/python tools/eval_smoothing.py [--frames 300] [--out out/eval]

Writes out/eval/smoothing.json and prints the table.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from poseflow_ros.paths import shared_dir  # noqa: E402
from video_cache import valid_cache, write_cache  # noqa: E402

VIDEOS = ('walk.small.mp4', 'people.small.mp4')
CACHE_VERSION = 2
POSE_KEYS = ('pose_backend', 'pose_runtime', 'pose_crop', 'pose_refine_passes', 'pose_crop_border')
DET_THRESHOLD = 0.25  # PipelineConfig default
LAG_JOINTS = (9, 10, 15, 16)  # COCO wrists and ankles
MIN_TRAVEL_PX = 20.0  # a run counts for the lag when its joint x spans at least this


def build_cache(video: Path, path: Path, max_frames: int) -> dict:
    """Cache the detections and raw poses of the first ``max_frames`` frames in an npz.

    Ragged arrays are flattened with a per-box frame index.
    """
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from poseflow_ros.types import Frame
    from poseflow_ros.video import VideoReader

    cfg = PipelineConfig(device='cpu', detector_score_threshold=DET_THRESHOLD)
    pipe = PosePipeline.from_config(cfg)
    rd = VideoReader(video)
    pipe.warmup((rd.height, rd.width))
    cols = {k: [] for k in ('frame', 'boxes', 'scores', 'kps', 'kp_scores')}
    n = 0
    t_start = time.time()
    for i, img in enumerate(rd):
        if i >= max_frames:
            break
        res = pipe.process(Frame(img, stamp=i / rd.fps, index=i))
        k = len(res.detections)
        cols['frame'].append(np.full(k, i, np.int32))
        cols['boxes'].append(res.detections.boxes)
        cols['scores'].append(res.detections.scores)
        cols['kps'].append(res.poses.keypoints.reshape(k, 17, 2))
        cols['kp_scores'].append(res.poses.scores.reshape(k, 17))
        n += 1
        if n % 50 == 0:
            print(
                f'[smoothing] {video.name}: {n} frames, {time.time() - t_start:.0f} s', flush=True
            )
    rd.close()
    meta = {
        'frames': n,
        'max_frames': max_frames,
        'fps': rd.fps,
        'width': rd.width,
        'height': rd.height,
        'det_threshold': DET_THRESHOLD,
        'pose': pose_settings(),
    }
    return write_cache(path, video, CACHE_VERSION, cols, meta)


def pose_settings() -> dict:
    from poseflow_ros.pipeline import PipelineConfig

    d = PipelineConfig().to_dict()
    return {k: d[k] for k in POSE_KEYS if k in d}


def get_cache(video: Path, out: Path, max_frames: int) -> dict:
    path = out / 'smoothing_cache' / (video.stem + '.npz')
    c = valid_cache(
        path,
        video,
        CACHE_VERSION,
        max_frames=max_frames,
        det_threshold=DET_THRESHOLD,
        pose=pose_settings(),
    )
    if c is not None:
        return c
    print(
        f'[smoothing] computing detections and poses of {video.name} (once; cached in {path})',
        flush=True,
    )
    return build_cache(video, path, max_frames)


# (min_cutoff Hz, beta) sets measured; None = smoothing off. MediaPipe's pose landmarks: (0.05,
# 80).
PARAM_SETS = (
    None,
    (0.05, 80.0),
    (0.3, 20.0),
    (0.5, 10.0),
    (1.0, 2.0),
    (1.0, 5.0),
    (1.0, 20.0),
    (2.0, 1.0),
    (2.0, 2.0),
    (2.0, 5.0),
    (3.0, 1.0),
    (3.0, 2.0),
    (3.0, 5.0),
    (5.0, 0.5),
    (5.0, 2.0),
)


def track_video(c: dict, params, d_cutoff: float = 1.0):
    """Run the tracker over a cached video.

    Per reported, matched track: {frame: (raw, smoothed, scores)}.
    """
    from poseflow_ros.track import Tracker, TrackerConfig
    from poseflow_ros.types import TrackerInput

    m = c['meta']
    n, fps = m['frames'], m['fps']
    over = (
        {'smooth_keypoints': False}
        if params is None
        else {
            'smoothing_min_cutoff': params[0],
            'smoothing_beta': params[1],
            'smoothing_derivative_cutoff': d_cutoff,
        }
    )
    tr = Tracker(TrackerConfig(**over))
    starts = np.searchsorted(c['frame'], np.arange(n + 1))
    series = {}
    for i in range(n):
        s = slice(starts[i], starts[i + 1])
        outs = tr.update(
            TrackerInput(
                c['boxes'][s],
                c['scores'][s],
                c['kps'][s],
                c['kp_scores'][s],
                image_size=(m['width'], m['height']),
                stamp=i / fps,
            )
        )
        for o in outs:
            if o.detection_index >= 0 and o.keypoints is not None:
                series.setdefault(o.track_id, {})[i] = (
                    o.keypoints_raw,
                    o.keypoints,
                    o.keypoint_scores,
                )
    return series


def runs_of(frames, ok):
    """Maximal runs of consecutive frames where ``ok`` holds: list of lists of frame numbers."""
    out, cur = [], []
    for f in frames:
        if ok(f) and cur and f == cur[-1] + 1:
            cur.append(f)
        else:
            if len(cur):
                out.append(cur)
            cur = [f] if ok(f) else []
    if cur:
        out.append(cur)
    return out


def lag_frames(
    raw: np.ndarray, smooth: np.ndarray, max_lag: float = 8.0, step: float = 0.05
) -> float:
    """Delay (frames) of ``smooth`` behind ``raw``.

    The shift ``tau`` that best aligns them, ``argmin mean (smooth(t) - raw(t - tau))^2`` with
    ``raw`` linearly interpolated between frames (the peak of their cross-correlation for signals
    of equal energy; unlike the raw cross-correlation peak it also sees the delay of a first-order
    low-pass, whose impulse response peaks at 0).
    """
    t = np.arange(len(raw), dtype=np.float64)
    k0 = int(np.ceil(max_lag))
    best, best_tau = np.inf, 0.0
    for tau in np.arange(0.0, max_lag + 1e-9, step):
        shifted = np.interp(t[k0:] - tau, t, raw)
        e = np.mean((smooth[k0:] - shifted) ** 2)
        if e < best:
            best, best_tau = e, float(tau)
    return best_tau


def measure(series: dict, score: float, min_run: int) -> dict:
    acc_raw, acc_sm, err = [], [], []
    lags, weights = [], []
    for tid, fr in series.items():
        frames = sorted(fr)
        for f in frames:
            if f - 1 in fr and f + 1 in fr:
                ok = (fr[f - 1][2] >= score) & (fr[f][2] >= score) & (fr[f + 1][2] >= score)
                if ok.any():
                    for col, acc in ((0, acc_raw), (1, acc_sm)):
                        a = fr[f + 1][col] - 2 * fr[f][col] + fr[f - 1][col]
                        acc.append(np.linalg.norm(a[ok], axis=-1))
            ok = fr[f][2] >= score
            if ok.any():
                err.append(np.linalg.norm((fr[f][1] - fr[f][0])[ok], axis=-1))
        for j in LAG_JOINTS:
            for run in runs_of(frames, lambda f: fr[f][2][j] >= score):
                if len(run) < min_run:
                    continue
                raw = np.array([fr[f][0][j, 0] for f in run], np.float64)
                sm = np.array([fr[f][1][j, 0] for f in run], np.float64)
                if np.ptp(raw) < MIN_TRAVEL_PX:  # the lag is only defined on a moving joint
                    continue
                lags.append(lag_frames(raw, sm))
                weights.append(len(run))

    def cat(v):
        return np.concatenate(v) if v else np.zeros(0)

    return {
        'jitter_raw_px': float(cat(acc_raw).mean()) if acc_raw else float('nan'),
        'jitter_px': float(cat(acc_sm).mean()) if acc_sm else float('nan'),
        'err_px': float(cat(err).mean()) if err else float('nan'),
        'lag_frames': float(np.average(lags, weights=weights)) if lags else float('nan'),
        'lag_runs': len(lags),
        'n_accel': int(sum(len(a) for a in acc_sm)),
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--frames', type=int, default=300, help='first frames of each video')
    ap.add_argument('--score', type=float, default=0.5, help='confident keypoint score')
    ap.add_argument('--min-run', type=int, default=20, help='shortest run of frames for the lag')
    ap.add_argument('--out', default=str(ROOT / 'out' / 'eval'))
    a = ap.parse_args()
    out = Path(a.out)
    vids = shared_dir() / 'data' / 'videos'
    caches = {v: get_cache(vids / v, out, a.frames) for v in VIDEOS if (vids / v).exists()}
    if not caches:
        sys.exit(f'no shared videos in {vids} (set POSEFLOW_SHARED)')
    rows = []
    for params in PARAM_SETS:
        per = {v: measure(track_video(c, params), a.score, a.min_run) for v, c in caches.items()}
        fps = {v: c['meta']['fps'] for v, c in caches.items()}
        w = {v: per[v]['n_accel'] for v in per}
        tot = max(1, sum(w.values()))
        mean = {
            k: sum(per[v][k] * w[v] for v in per) / tot
            for k in ('jitter_raw_px', 'jitter_px', 'err_px', 'lag_frames')
        }
        mean['lag_ms'] = sum(per[v]['lag_frames'] * 1e3 / fps[v] * w[v] for v in per) / tot
        rows.append(
            {
                'min_cutoff': None if params is None else params[0],
                'beta': None if params is None else params[1],
                'per_video': per,
                'mean': mean,
            }
        )
    from poseflow_ros.track import TrackerConfig

    d = TrackerConfig()
    res = {
        'date': time.strftime('%Y-%m-%d %H:%M:%S'),
        'frames_per_video': a.frames,
        'score': a.score,
        'min_run': a.min_run,
        'videos': {v: c['meta'] for v, c in caches.items()},
        'default': {
            'min_cutoff': d.smoothing_min_cutoff,
            'beta': d.smoothing_beta,
            'derivative_cutoff': d.smoothing_derivative_cutoff,
        },
        'rows': rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / 'smoothing.json').write_text(json.dumps(res, indent=1))
    print_table(rows, res['default'])
    print(f'[smoothing] wrote {out / "smoothing.json"}')
    return 0


def print_table(rows, default):
    hdr = (
        f"{'min_cutoff':>10s} {'beta':>6s} {'jitter px':>10s} {'(raw)':>7s} {'reduction':>9s} "
        f"{'lag frames':>10s} {'lag ms':>7s} {'|sm-raw| px':>11s}"
    )
    print(hdr)
    print('-' * len(hdr))
    for r in rows:
        m = r['mean']
        name = (
            ('off', '') if r['min_cutoff'] is None else (f"{r['min_cutoff']:g}", f"{r['beta']:g}")
        )
        is_default = (r['min_cutoff'], r['beta']) == (default['min_cutoff'], default['beta'])
        mark = ' <- default' if is_default else ''
        print(
            f"{name[0]:>10s} {name[1]:>6s} {m['jitter_px']:10.2f} {m['jitter_raw_px']:7.2f} "
            f"{1 - m['jitter_px'] / m['jitter_raw_px']:9.0%} {m['lag_frames']:10.2f} "
            f"{m['lag_ms']:7.1f} {m['err_px']:11.2f}{mark}"
        )


if __name__ == '__main__':
    sys.exit(main())
