#!/usr/bin/env python3
"""Person-detector recall/precision per input size and tiling setting (part of `make eval-pose`).

For each setting (input size, canvas, tiling) of the RTMDet-nano detector on onnxruntime (CPU):

* MOT17 (``shared/data/mot17-mini``: 16 frames of MOT17-02/04/09, 1920 x 1080): positives are the
  ground-truth pedestrians (class 1, consider flag 1) with visibility >= 0.5. Detections at the
  pipeline's score threshold (0.25) are matched greedily, highest score first, to the unmatched
  positive of highest IoU >= 0.5 -> recall = TP / positives, precision = TP / (TP + FP). A
  detection that matches no positive but overlaps (IoU >= 0.5) an ignored ground-truth box (a
  pedestrian with visibility < 0.5, a person on a vehicle, a static person, a distractor, a
  reflection) is neither TP nor FP. AP50 over the score-ranked detections (score >= 0.05) with the
  same matching. The same at 640 x 360 (the frames shrunk 3x, boxes with them) shows what a
  VGA-class camera gets.
* COCO detection AP (pycocotools, iouType 'bbox', person) on ``shared/data/coco_val_sample``
  (4 images of about 640 x 480, 14 persons), detections at score >= 0.05.
* ms/frame: median time of ``detect()`` per frame (pre-processing, network, merge) on the
  1920 x 1080 frames and on 640 x 480 frames (each MOT frame centre-cropped to 4:3 and resized),
  with ``--threads`` onnxruntime threads: CPU time of the calling thread (with 1 thread, the
  default, that is the cost on one core even when other processes share the CPU) and wall time.

Writes out/eval/detector.json and prints the table.

    .venv/bin/python tools/eval_detector.py [--settings 320 fit640 tiles640@320 ...] [--threads 1]

Setting names: ``320`` (square canvas, as exported), ``fitN`` (input N, fit canvas), ``tilesT@N``
(tiles of T pixels, overlap 0.25, plus the whole frame, input N, fit canvas).
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import io
import json
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseflow_ros.paths import REPO_ROOT, shared_dir  # noqa: E402
from poseflow_ros.geometry import iou_matrix  # noqa: E402

DEFAULT_SETTINGS = (
    '320',
    'fit320',
    '384',
    '416',
    '448',
    'fit448',
    '480',
    '640',
    'fit640',
    '960',
    'fit960',
    'fit1280',
    'tiles640@320',
    'tiles960@480',
    'tiles640@640',
)
SCORE_THRESHOLD = 0.25  # the pipeline's default (detector_score_threshold)
AP_SCORE_THRESHOLD = 0.05  # the graph's own NMS threshold: everything it outputs
MIN_VISIBILITY, MATCH_IOU = 0.5, 0.5


def parse_setting(name: str) -> dict:
    """'320' | 'fitN' | 'tilesT@N' -> make_detector keyword arguments."""
    m = re.fullmatch(r'(\d+)', name)
    if m:
        return {'input_size': int(m[1]), 'canvas': 'square'}
    m = re.fullmatch(r'fit(\d+)', name)
    if m:
        return {'input_size': int(m[1]), 'canvas': 'fit'}
    m = re.fullmatch(r'tiles(\d+)@(\d+)', name)
    if m:
        return {
            'input_size': int(m[2]),
            'canvas': 'fit',
            'tile_size': int(m[1]),
            'tile_overlap': 0.25,
        }
    raise ValueError(f'unknown setting {name!r} (use 320, fitN or tilesT@N)')


# ----------------------------------------------------------------------------- MOT17 ground truth


def load_mot(root: Path) -> list:
    """Return [(sequence, frame, image path, positives (P,4), ignored (Q,4))], boxes xyxy."""
    frames = []
    for seq in sorted(p for p in root.iterdir() if (p / 'gt' / 'gt.txt').is_file()):
        info = configparser.ConfigParser()
        info.read(seq / 'seqinfo.ini')
        gt = np.loadtxt(seq / 'gt' / 'gt.txt', delimiter=',', ndmin=2)
        for img in sorted((seq / info['Sequence'].get('imDir', 'img1')).glob('*.jpg')):
            f = int(img.stem)
            rows = gt[gt[:, 0] == f]
            # 1-based MOT
            xyxy = np.concatenate([rows[:, 2:4] - 1, rows[:, 2:4] - 1 + rows[:, 4:6]], 1)
            pos = (rows[:, 6] == 1) & (rows[:, 7] == 1) & (rows[:, 8] >= MIN_VISIBILITY)
            frames.append(
                (seq.name, f, img, xyxy[pos].astype(np.float32), xyxy[~pos].astype(np.float32))
            )
    return frames


def match_frame(
    boxes: np.ndarray, scores: np.ndarray, pos: np.ndarray, ign: np.ndarray
) -> np.ndarray:
    """Per detection: 1 TP, 0 FP, -1 ignored (greedy by score, IoU >= MATCH_IOU)."""
    out = np.zeros(len(boxes), np.int8)
    if not len(boxes):
        return out
    iou = iou_matrix(boxes, pos) if len(pos) else np.zeros((len(boxes), 0))
    iou_ign = iou_matrix(boxes, ign) if len(ign) else np.zeros((len(boxes), 0))
    taken = np.zeros(len(pos), bool)
    for i in np.argsort(-scores, kind='stable'):
        cand = np.where(taken, -1.0, iou[i]) if len(pos) else np.zeros(0)
        if len(cand) and cand.max() >= MATCH_IOU:
            j = int(cand.argmax())
            taken[j] = True
            out[i] = 1
        elif iou_ign.shape[1] and iou_ign[i].max() >= MATCH_IOU:
            out[i] = -1
    return out


def average_precision(scores: np.ndarray, tp: np.ndarray, n_pos: int) -> float:
    """All-point interpolated AP (VOC 2010+) of score-ranked detections with TP flags."""
    if not n_pos or not len(scores):
        return 0.0
    o = np.argsort(-scores, kind='stable')
    tp = tp[o].astype(np.float64)
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    rec, prec = ctp / n_pos, ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(((mrec[i + 1] - mrec[i]) * mpre[i + 1]).sum())


def eval_mot(det, det_ap, frames, scale: float = 1.0, desc: str = 'mot17') -> dict:
    """Measure recall/precision (det, score >= 0.25) and AP50 (det_ap, score >= 0.05).

    On the MOT frames, each resized by ``scale`` (boxes too).
    """
    per_seq, all_ap = {}, ([], [])
    tot = dict(tp=0, fp=0, positives=0)
    from tqdm import tqdm

    for seq, _, path, pos, ign in tqdm(
        frames, desc=desc, unit='frame', file=sys.stderr, mininterval=1.0, leave=False
    ):
        img = cv2.imread(str(path))
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            pos, ign = pos * scale, ign * scale
        d = det.detect(img)
        m = match_frame(d.boxes, d.scores, pos, ign)
        s = per_seq.setdefault(seq, dict(tp=0, fp=0, positives=0))
        for acc in (s, tot):
            acc['tp'] += int((m == 1).sum())
            acc['fp'] += int((m == 0).sum())
            acc['positives'] += len(pos)
        d = det_ap.detect(img)
        m = match_frame(d.boxes, d.scores, pos, ign)
        all_ap[0].append(d.scores[m >= 0])
        all_ap[1].append(m[m >= 0])

    def rates(a):
        a['recall'] = a['tp'] / max(a['positives'], 1)
        a['precision'] = a['tp'] / max(a['tp'] + a['fp'], 1)
        return a

    out = rates(tot)
    out['per_sequence'] = {k: rates(v) for k, v in per_seq.items()}
    out['ap50'] = average_precision(
        np.concatenate(all_ap[0]), np.concatenate(all_ap[1]), tot['positives']
    )
    return out


# ----------------------------------------------------------------------------- COCO sample


def eval_coco(det_ap, data_dir: Path) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(data_dir / 'test_coco.json'))
    results = []
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        d = det_ap.detect(cv2.imread(str(data_dir / info['file_name'])))
        for b, s in zip(d.boxes, d.scores):
            results.append(
                {
                    'image_id': img_id,
                    'category_id': 1,
                    'score': float(s),
                    'bbox': [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                }
            )
    if not results:
        return {'AP': 0.0, 'AP50': 0.0, 'AP75': 0.0, 'AR100': 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(results), 'bbox')
        ev.params.catIds = [1]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {
        'AP': float(ev.stats[0]),
        'AP50': float(ev.stats[1]),
        'AP75': float(ev.stats[2]),
        'AR100': float(ev.stats[8]),
    }


# ----------------------------------------------------------------------------- timing


def time_frames(det, images, repeat: int = 1) -> dict:
    """Median ms of detect() per image (after one warm-up call).

    Wall time, and the CPU time of this thread (with one onnxruntime thread the network runs on the
    calling thread, so this is the cost on one core, insensitive to other processes sharing the
    CPU).
    """
    det.detect(images[0])
    wall, cpu = [], []
    for _ in range(repeat):
        for img in images:
            t, c = time.perf_counter(), time.thread_time()
            det.detect(img)
            cpu.append((time.thread_time() - c) * 1e3)
            wall.append((time.perf_counter() - t) * 1e3)
    return {'wall': float(np.median(wall)), 'cpu': float(np.median(cpu))}


def vga(img: np.ndarray) -> np.ndarray:
    """Centre 4:3 crop resized to 640 x 480."""
    h, w = img.shape[:2]
    cw = min(w, h * 4 // 3)
    x0 = (w - cw) // 2
    return cv2.resize(img[:, x0 : x0 + cw], (640, 480), interpolation=cv2.INTER_AREA)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--settings', nargs='+', default=list(DEFAULT_SETTINGS))
    ap.add_argument('--threads', type=int, default=1, help='onnxruntime intra-op threads')
    ap.add_argument(
        '--max-detections',
        type=int,
        default=100,
        help='boxes kept per frame (the graph keeps at most 100 per pass)',
    )
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'eval' / 'detector.json'))
    a = ap.parse_args(argv)
    from poseflow_ros import models
    from poseflow_ros.detect import make_detector

    models.fetch('rtmdet_nano_person')
    data = shared_dir() / 'data'
    frames = load_mot(data / 'mot17-mini')
    if not frames:
        print(f'no MOT17 frames under {data / "mot17-mini"}', file=sys.stderr)
        return 1
    big = [cv2.imread(str(f[2])) for f in frames]
    small = [vga(im) for im in big]
    report = {
        'protocol': {
            'mot': f'pedestrians (class 1, flag 1) with visibility >= {MIN_VISIBILITY}, '
            f'IoU >= {MATCH_IOU}, greedy by score; detections on ignored GT boxes '
            f'not counted; recall/precision at score >= {SCORE_THRESHOLD}, '
            f'AP50 at score >= {AP_SCORE_THRESHOLD}',
            'coco': 'pycocotools bbox AP, person, score >= 0.05',
            'ms': f'median detect() ms per frame (thread CPU time and wall), onnxruntime '
            f'CPU, {a.threads} thread(s)',
            'max_detections': a.max_detections,
        },
        'mot_frames': len(frames),
        'mot_positives': int(sum(len(f[3]) for f in frames)),
        'settings': {},
    }
    for name in a.settings:
        kw = parse_setting(name)
        common = dict(num_threads=a.threads, max_detections=a.max_detections, **kw)
        det = make_detector('onnxruntime', score_threshold=SCORE_THRESHOLD, **common)
        det_ap = make_detector('onnxruntime', score_threshold=AP_SCORE_THRESHOLD, **common)
        r = dict(kw)
        r['mot'] = eval_mot(det, det_ap, frames, desc=f'{name} mot17')
        r['mot_640x360'] = eval_mot(det, det_ap, frames, scale=1 / 3, desc=f'{name} 640x360')
        r['coco'] = eval_coco(det_ap, data / 'coco_val_sample')
        r['ms_1920x1080'] = time_frames(det, big)
        r['passes_1920x1080'] = det.last_passes
        r['ms_640x480'] = time_frames(det, small, repeat=2)
        report['settings'][name] = r
        print(f'{name}: done', file=sys.stderr, flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(
        f'MOT17-mini: {report["mot_frames"]} frames, {report["mot_positives"]} pedestrians '
        f'(visibility >= {MIN_VISIBILITY}); {a.threads} CPU thread(s)'
    )
    hdr = (
        f'{"setting":14s} {"recall":>6s} {"prec":>6s} {"AP50":>6s} | {"rec360":>6s} | '
        f'{"COCO AP":>7s} {"AP50":>6s} | {"ms 1080p":>8s} {"passes":>6s} {"ms VGA":>6s} | '
        'per-seq recall 02/04/09'
    )
    print(hdr)
    for name, r in report['settings'].items():
        m, ps = r['mot'], r['mot']['per_sequence']
        seqs = '/'.join(f'{v["recall"] * 100:.0f}' for _, v in sorted(ps.items()))
        print(
            f'{name:14s} {m["recall"] * 100:6.1f} {m["precision"] * 100:6.1f} '
            f'{m["ap50"] * 100:6.1f} | {r["mot_640x360"]["recall"] * 100:6.1f} | '
            f'{r["coco"]["AP"] * 100:7.1f} {r["coco"]["AP50"] * 100:6.1f} | '
            f'{r["ms_1920x1080"]["cpu"]:8.1f} {r["passes_1920x1080"]:6d} '
            f'{r["ms_640x480"]["cpu"]:6.1f} | {seqs}'
        )
    print(
        'ms = median thread CPU ms per frame (wall times in the json); rec360 = recall on the '
        'frames shrunk to 640x360; VGA = 640x480 frames'
    )
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
