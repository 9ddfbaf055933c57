#!/usr/bin/env python3
r"""Run the PEER trackers on prepared detections.

Executed by tools/bench_tracking.py inside .venv-bench (tools/setup_bench_venv.sh), never imported
by poseflow_ros. Writes one MOT result file per (job, peer) and a JSON with ms/frame; the metrics
are computed afterwards by our harness, for every tracker alike.

    .venv-bench/bin/python tools/bench_peers_runner.py jobs.json results.json [--peers a,b] \
        [--check-hota cases.json]

jobs.json:
``[{"npz": ".../dets.npz", "out_dir": "...", "fps": 25, "width": 640, "height": 480}, ...]``; each
npz holds ``frame (M,)`` (1-based), ``boxes (M, 4)`` x1 y1 x2 y2, ``scores (M,)``, ``n_frames``.

Peer settings (people of 50-300 px in 640x480 at 25 fps, detector-like scores). Each peer got the
best of a small grid (8-12 settings around its defaults, chosen by mean HOTA on setting B with the
"dev" seeds 0-4, i.e. not the reported seeds). The grid of each peer is listed below; its
per-setting scores were not kept: to run it again, give the jobs of jobs.json
``"variants": {tag: {peer: {setting: value}}}`` (one result per tag, see :func:`run_job`):

- ByteTrack (boxmot 25.0.0): track_thresh 0.45 (boxmot default), min_conf 0.1, match_thresh 0.8,
  track_buffer 30 frames, frame_rate = sequence fps. (grid: track_thresh 0.45/0.6, match 0.8/0.9,
  buffer 30/60)
- BoT-SORT (boxmot): track_high_thresh 0.45, new_track_thresh 0.55, track_low_thresh 0.1,
  match_thresh 0.8, track_buffer 30, use_embeddings False (no ReID weights offline, no images),
  use_cmc False (static cameras, no images), frame_rate = fps. (same grid as ByteTrack)
- OC-SORT (boxmot): det_thresh 0.5, min_conf 0.1, use_byte True (its ByteTrack-style low-score
  stage), max_age 30, min_hits 2, iou_threshold 0.3, delta_t 3, inertia 0.2. (grid: det_thresh
  0.5/0.6, iou 0.2/0.3, min_hits 2/3)
- norfair 2.3.0: IoU distance on the box corners, distance_threshold 0.6 (IoU >= 0.4),
  hit_counter_max 10, initialization_delay 2, detection_threshold 0.3, default
  OptimizedKalmanFilter; it reports its Kalman estimate. (grid: threshold 0.6/0.8, hit_counter_max
  10/15/25, delay 2/3)
- deep-sort-realtime 1.3.2: max_age 30, n_init 2, max_iou_distance 0.8, max_cosine_distance 0.2,
  embedder None; it needs an embedding per box, so it gets the same constant vector for every box
  (appearance carries no information; association relies on its Mahalanobis gate + IoU); boxes
  scoring below 0.3 are not given to it (it has no score threshold of its own). (grid: n_init 2/3,
  max_iou 0.7/0.8, min score 0.3/0.5)
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def default_settings(fps: float):
    """Return the settings of each peer (see the module doc).

    ``min_score`` is ours: boxes below it are not given to trackers without a score threshold of
    their own.
    """
    f = int(round(fps))
    return {
        'bytetrack': dict(
            min_conf=0.1, track_thresh=0.45, match_thresh=0.8, track_buffer=30, frame_rate=f
        ),
        'botsort': dict(
            track_high_thresh=0.45,
            track_low_thresh=0.1,
            new_track_thresh=0.55,
            track_buffer=30,
            match_thresh=0.8,
            use_cmc=False,
            use_embeddings=False,
            frame_rate=f,
        ),
        'ocsort': dict(
            det_thresh=0.5,
            min_conf=0.1,
            use_byte=True,
            max_age=30,
            min_hits=2,
            iou_threshold=0.3,
            delta_t=3,
            inertia=0.2,
        ),
        'norfair': dict(
            distance_function='iou',
            distance_threshold=0.6,
            hit_counter_max=10,
            initialization_delay=2,
            detection_threshold=0.3,
        ),
        'deepsort_rt': dict(
            max_age=30,
            n_init=2,
            max_iou_distance=0.8,
            max_cosine_distance=0.2,
            nn_budget=None,
            min_score=0.3,
        ),
    }


def make_peers(fps: float, width: int, height: int, overrides=None):
    """Name -> factory() -> step(boxes, scores) -> (ids, boxes).

    ``overrides``: {peer: {setting: value}}.
    """
    img = np.zeros((height, width, 3), np.uint8)
    cfg = default_settings(fps)
    for k, v in (overrides or {}).items():
        cfg[k].update(v)
    peers = {}

    def boxmot_factory(cls_name, kw):
        def factory():
            import boxmot

            tr = getattr(boxmot, cls_name)(**kw)

            def step(boxes, scores):
                dets = np.concatenate(
                    [boxes, scores[:, None], np.zeros((len(boxes), 1))], 1
                ).astype(np.float32)
                o = tr.update(dets.reshape(-1, 6), img)
                o = np.asarray(o).reshape(-1, 8) if np.size(o) else np.zeros((0, 8))
                return o[:, 4].astype(np.int64) + 1, o[:, :4]

            return step

        return factory

    peers['bytetrack'] = boxmot_factory('ByteTrack', cfg['bytetrack'])
    peers['botsort'] = boxmot_factory('BotSort', cfg['botsort'])
    peers['ocsort'] = boxmot_factory('OcSort', cfg['ocsort'])

    def norfair_factory():
        import norfair

        tr = norfair.Tracker(**cfg['norfair'])

        def step(boxes, scores):
            dets = [
                norfair.Detection(
                    points=b.reshape(2, 2).astype(np.float64), scores=np.array([s, s])
                )
                for b, s in zip(boxes, scores)
            ]
            objs = tr.update(detections=dets)
            if not objs:
                return np.zeros(0, np.int64), np.zeros((0, 4))
            return (
                np.array([o.id for o in objs], np.int64),
                np.stack([np.asarray(o.estimate, np.float64).reshape(4) for o in objs]),
            )

        return step

    peers['norfair'] = norfair_factory

    def dsr_factory():
        from deep_sort_realtime.deepsort_tracker import DeepSort

        kw = dict(cfg['deepsort_rt'])
        min_score = kw.pop('min_score')
        tr = DeepSort(embedder=None, **kw)
        emb = np.ones(8, np.float32)

        def step(boxes, scores):
            keep = scores >= min_score
            b, s = boxes[keep], scores[keep]
            raw = [
                ([float(x[0]), float(x[1]), float(x[2] - x[0]), float(x[3] - x[1])], float(c), 0)
                for x, c in zip(b, s)
            ]
            tracks = tr.update_tracks(raw, embeds=[emb] * len(raw))
            out = [
                (int(t.track_id), t.to_ltrb())
                for t in tracks
                if t.is_confirmed() and t.time_since_update == 0
            ]
            if not out:
                return np.zeros(0, np.int64), np.zeros((0, 4))
            return (
                np.array([o[0] for o in out], np.int64),
                np.stack([np.asarray(o[1], np.float64) for o in out]),
            )

        return step

    peers['deepsort_rt'] = dsr_factory
    return peers


PEERS = ('norfair', 'bytetrack', 'botsort', 'deepsort_rt', 'ocsort')


def run_job(job, names):
    d = np.load(job['npz'])
    n = int(d['n_frames'])
    fr, boxes, scores = d['frame'], d['boxes'].astype(np.float32), d['scores'].astype(np.float32)
    per = [(boxes[fr == f], scores[fr == f]) for f in range(1, n + 1)]
    out = {}
    variants = job.get('variants') or {'': {}}  # tag -> overrides (tools/bench_tracking.py: one)
    for tag, ov in variants.items():
        peers = make_peers(job.get('fps', 25), job.get('width', 640), job.get('height', 480), ov)
        for name in names:
            out[name + tag] = _run_peer(peers[name], name + tag, per, n, job)
    return out


def _run_peer(factory, name, per, n, job):
    step = factory()
    rows, total = [], 0.0
    for i, (b, s) in enumerate(per):
        t0 = time.perf_counter()
        ids, bx = step(b, s)
        total += time.perf_counter() - t0
        for tid, x in zip(ids, bx):
            rows.append(
                f'{i + 1},{int(tid)},{x[0]:.2f},{x[1]:.2f},'
                f'{x[2] - x[0]:.2f},{x[3] - x[1]:.2f},1,-1,-1,-1'
            )
    p = Path(job['out_dir']) / f'{name}.txt'
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('\n'.join(rows) + ('\n' if rows else ''))
    return {'file': str(p), 'ms_per_frame': 1e3 * total / max(1, n)}


def check_hota(path):
    """Run TrackEval's HOTA / CLEAR / Identity on cases from our harness.

    The cases are given as per-frame ids + IoU matrices; writes the results next to the input for
    comparison with our implementation.
    """
    import trackeval

    cases = json.loads(Path(path).read_text())
    res = []
    for c in cases:
        gt_ids = [np.asarray(g, int) for g in c['gt_ids']]
        tr_ids = [np.asarray(t, int) for t in c['tr_ids']]
        sims = [
            np.asarray(s, float).reshape(len(g), len(t))
            for g, t, s in zip(gt_ids, tr_ids, c['sims'])
        ]
        gu = np.unique(np.concatenate(gt_ids)) if any(len(g) for g in gt_ids) else np.zeros(0, int)
        tu = np.unique(np.concatenate(tr_ids)) if any(len(t) for t in tr_ids) else np.zeros(0, int)
        data = {
            'num_timesteps': len(gt_ids),
            'num_gt_ids': len(gu),
            'num_tracker_ids': len(tu),
            'num_gt_dets': int(sum(len(g) for g in gt_ids)),
            'num_tracker_dets': int(sum(len(t) for t in tr_ids)),
            'gt_ids': [np.searchsorted(gu, g) for g in gt_ids],
            'tracker_ids': [np.searchsorted(tu, t) for t in tr_ids],
            'similarity_scores': sims,
        }
        q = {'PRINT_CONFIG': False}
        h = trackeval.metrics.HOTA(q).eval_sequence(data)
        cl = trackeval.metrics.CLEAR(q).eval_sequence(data)
        idm = trackeval.metrics.Identity(q).eval_sequence(data)
        res.append(
            {
                'name': c.get('name', ''),
                'HOTA': float(np.mean(h['HOTA'])),
                'DetA': float(np.mean(h['DetA'])),
                'AssA': float(np.mean(h['AssA'])),
                'LocA': float(np.mean(h['LocA'])),
                'MOTA': float(cl['MOTA']),
                'IDF1': float(idm['IDF1']),
                'IDSW': int(cl['IDSW']),
            }
        )
    return res


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('jobs')
    ap.add_argument('results')
    ap.add_argument('--peers', default=','.join(PEERS))
    ap.add_argument('--check-hota', default='', help='JSON of cases to evaluate with TrackEval')
    a = ap.parse_args()
    import logging

    logging.disable(logging.WARNING)  # boxmot logs every tracker construction at INFO
    names = [p for p in a.peers.split(',') if p]
    out = {'jobs': [], 'versions': {}}
    for mod in ('boxmot', 'norfair', 'deep_sort_realtime', 'trackeval'):
        try:
            m = __import__(mod)
            out['versions'][mod] = getattr(m, '__version__', '?')
        except Exception as e:  # reported, the bench marks the peer as failed
            out['versions'][mod] = f'import failed: {e}'
    for job in json.loads(Path(a.jobs).read_text()) if a.jobs != '-' else []:
        out['jobs'].append(run_job(job, names))
    if a.check_hota:
        out['trackeval'] = check_hota(a.check_hota)
    Path(a.results).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
