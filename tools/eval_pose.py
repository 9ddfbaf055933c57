#!/usr/bin/env python3
"""COCO keypoint AP of BlazePose per crop variant and box source (`make eval-pose`).

Scored on the shared COCO val sample.

Crop variants (see poseflow_ros/pose/roi.py and PipelineConfig.pose_crop):
  box              the person box padded 1.25x to an upright square (one pass)
  refine           + a second pass on the alignment ROI computed from the first pass's
                   landmarks 33/34
  refine2          + a third pass
  refine2_flip     refine2, every crop also mirrored and the two results averaged (2x the crops)
  temporal         a synthetic track: the same image --frames times, frame t cropped from frame
                   t-1's ROI (matched by box through poseflow_ros.pose.roi.RoiMemory, as the
                   pipeline does); the first frame from the box; the last frame is scored
  temporal_refine  the same, the first frame (new people) with a second pass
                   (temporal_refine2: + a third)
Box sources: gt (ground-truth boxes), det_file (test_coco_det_AP_H_56.json, score >=
--det-file-threshold), detector (our RTMDet-nano, score >= 0.3, as the pipeline's tests use it).

Landmarks are refined from the model's heatmaps as MediaPipe does (poseflow_ros/pose/heatmap.py,
PipelineConfig.pose_heatmap_refine); --heatmap-refine off scores the regressed landmarks only.

More people: --extra-data DIR (MMPose's tests/data: posetrack18, ochuman, aic, crowdpose, mhp and
one HumanArt photo, 38 persons, converted to COCO-17 by tools/keypoint_sets.py, only the joints
each set labels) adds the set "extra", scored from gt and detector boxes.

Hips out of view: for every ground-truth person with both hips labelled, the image is cut just
above the hips (15 % of the shoulder-hip distance above the higher hip); that person is scored with
the keypoints below the cut unlabelled, its box clipped and its area scaled (the other people of
the image become crowd regions). The same variants are scored on these cut images; "lost" counts
persons (ground-truth boxes) whose every keypoint scores below 0.3 (a box without a skeleton).

Writes out/eval/pose_ap.json and prints a table; ms/person is the steady-state pose cost per person
on this machine (the last frame for temporal variants), with the --runtime given. The shared
photos, drawn with the box and the default crops side by side, go to out/eval/pose_photos/
(--photos).

    .venv/bin/python tools/eval_pose.py [--variants box refine ...]
        [--sources gt det_file detector] [--frames 3] [--runtime onnxruntime] [--border replicate]
        [--mmpose-config C --mmpose-checkpoint P] [--heatmap-refine on|off]
        [--extra-data MMPOSE/tests/data] [--photos DIR]

The sample is small (4 images, 12 scored persons): the numbers are a regression guard and a way to
compare variants, not a benchmark comparable to full COCO val.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import sys
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseflow_ros.paths import REPO_ROOT, shared_dir  # noqa: E402
from poseflow_ros.pipeline import PipelineConfig  # noqa: E402
from poseflow_ros.pose import POSE_PRECISIONS  # noqa: E402

METRICS = ('AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl')
VARIANTS = {  # name -> (refine passes on new people, frames of the synthetic track, flip test)
    'box': (0, 1, False),
    'refine': (1, 1, False),
    'refine2': (2, 1, False),
    'refine2_flip': (2, 1, True),
    'temporal': (0, None, False),
    'temporal_refine': (1, None, False),
    'temporal_refine2': (2, None, False),
}
SOURCES = ('gt', 'det_file', 'detector')
LOST_THRESHOLD = 0.3
CUT_ABOVE_HIPS = 0.15  # fraction of shoulder-hip distance above the higher hip


def load_coco(path: Path):
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def coco_from_dict(d: dict):
    from pycocotools.coco import COCO

    c = COCO()
    c.dataset = d
    with contextlib.redirect_stdout(io.StringIO()):
        c.createIndex()
    return c


def coco_eval(coco, results) -> dict:
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {m: 0.0 for m in METRICS}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = coco.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco, dt, 'keypoints')
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {m: float(v) for m, v in zip(METRICS, ev.stats)}


def waist_cut_set(coco, images: dict):
    """(coco, images) of image copies, each cut just above one person's hips (see module doc)."""
    out_imgs, out_anns, new_images = [], [], {}
    next_id = 1
    for a in coco.loadAnns(coco.getAnnIds(iscrowd=False)):
        kp = np.array(a['keypoints'], np.float64).reshape(17, 3)
        if a['num_keypoints'] == 0 or kp[11, 2] == 0 or kp[12, 2] == 0:
            continue
        hip_y = min(kp[11, 1], kp[12, 1])
        sh = kp[[5, 6]][kp[[5, 6], 2] > 0]
        top = sh[:, 1].max() if len(sh) else a['bbox'][1]
        cut = int(round(hip_y - CUT_ABOVE_HIPS * max(hip_y - top, 1.0)))
        img = images[a['image_id']][:cut]
        iid = next_id
        next_id += 1
        new_images[iid] = np.ascontiguousarray(img)
        info = dict(
            coco.loadImgs(a['image_id'])[0],
            id=iid,
            height=cut,
            cut_from=a['image_id'],
            cut_person=a['id'],
        )
        out_imgs.append(info)
        for b in coco.loadAnns(coco.getAnnIds(imgIds=a['image_id'])):
            k = np.array(b['keypoints'], np.float64).reshape(17, 3)
            k[k[:, 1] >= cut] = 0.0
            x, y, w, h = b['bbox']
            h2 = min(y + h, cut) - y
            if h2 <= 1:
                continue
            frac = h2 / max(h, 1e-6)
            # the other people of the image are cut somewhere else (often to a strip): crowd
            # regions, so that poses found on them neither count nor hurt
            out_anns.append(
                dict(
                    b,
                    id=len(out_anns) + 1,
                    image_id=iid,
                    keypoints=k.reshape(-1).tolist(),
                    num_keypoints=int((k[:, 2] > 0).sum()),
                    bbox=[x, y, w, h2],
                    area=float(b['area']) * frac,
                    segmentation=[],
                    iscrowd=int(b['id'] != a['id'] or b['iscrowd']),
                )
            )
    d = {'images': out_imgs, 'annotations': out_anns, 'categories': coco.dataset['categories']}
    return coco_from_dict(d), new_images


def box_sources(
    coco,
    images: dict,
    detector,
    det_file: list,
    det_file_threshold: float,
    cut_from: Optional[dict] = None,
) -> dict:
    """Boxes per source: source -> {image_id: (xyxy (N,4), scores (N,))}.

    ``cut_from`` maps cut image ids to originals (the det_file boxes are clipped to the cut);
    ``det_file`` None: no det_file source.
    """
    out = {s: {} for s in SOURCES if det_file is not None or s != 'det_file'}
    det_file = det_file or []
    by_img = {}
    for d in det_file:
        by_img.setdefault(d['image_id'], []).append(d)
    for img_id in coco.getImgIds():
        anns = [
            a
            for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))
            if a['num_keypoints'] > 0
        ]
        xywh = np.array([a['bbox'] for a in anns], np.float32).reshape(-1, 4)
        out['gt'][img_id] = (
            np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1),
            np.ones(len(anns), np.float32),
        )
        src = cut_from.get(img_id, img_id) if cut_from else img_id
        h = images[img_id].shape[0]
        dets = [d for d in by_img.get(src, []) if d['score'] >= det_file_threshold]
        b = np.array(
            [
                [
                    d['bbox'][0],
                    d['bbox'][1],
                    d['bbox'][0] + d['bbox'][2],
                    d['bbox'][1] + d['bbox'][3],
                ]
                for d in dets
            ],
            np.float32,
        ).reshape(-1, 4)
        s = np.array([d['score'] for d in dets], np.float32)
        b[:, 3] = np.minimum(b[:, 3], h)
        keep = b[:, 3] - b[:, 1] > 4
        if 'det_file' in out:
            out['det_file'][img_id] = (b[keep], s[keep])
        d = detector.detect(images[img_id])
        out['detector'][img_id] = (d.boxes, d.scores)
    return out


def run_variant(est, images: dict, boxes_by_image: dict, refine: int, frames: int):
    """-> (COCO results, ms per person, crops per person, persons without a skeleton).

    ms and crops per person are the steady state: the last frame.
    """
    from poseflow_ros.pose.roi import RoiMemory

    if hasattr(est, 'refine_passes'):
        est.refine_passes = refine
    results, ms, crops, persons, lost = [], 0.0, 0, 0, 0
    for img_id, (boxes, scores) in boxes_by_image.items():
        if not len(boxes):
            continue
        img = images[img_id]
        mem = RoiMemory()
        for f in range(frames):
            t = time.perf_counter()
            poses = (
                est.estimate(img, boxes, rois=mem.prior(boxes)) if f else est.estimate(img, boxes)
            )
            dt = time.perf_counter() - t
            mem.update(boxes, poses.rois)
        ms += dt * 1e3
        crops += getattr(est, 'last_crops', len(boxes))
        persons += len(boxes)
        lost += int((poses.scores.max(1) < LOST_THRESHOLD).sum())
        for i in range(len(boxes)):
            kp = np.concatenate([poses.keypoints[i], poses.scores[i][:, None]], 1)
            vis = poses.scores[i] > 0.2
            kp_score = float(poses.scores[i][vis].mean()) if vis.any() else 0.0
            results.append(
                {
                    'image_id': int(img_id),
                    'category_id': 1,
                    'keypoints': kp.reshape(-1).tolist(),
                    'score': float(scores[i]) * kp_score,
                }
            )
    return results, ms / max(persons, 1), crops / max(persons, 1), lost


def write_photos(est, detector, out_dir: Path, frames: int) -> list:
    """Draw the `box` crop's and the default crop's skeletons side by side on the shared photos.

    Boxes from our detector (score >= 0.3); the default (temporal + 1 refine pass) drawn from the
    last of ``frames`` frames of the same photo, as in the AP table. Returns the files written.
    """
    from poseflow_ros.coco import SKELETON
    from poseflow_ros.pose.roi import RoiMemory

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((shared_dir() / 'data' / 'images').glob('*.jpg')):
        img = cv2.imread(str(path))
        d = detector.detect(img)
        panels = []
        for name, (refine, n) in (('box', (0, 1)), ('default', (1, frames))):
            est.refine_passes, mem = refine, RoiMemory()
            for f in range(n):
                poses = est.estimate(img, d.boxes, rois=mem.prior(d.boxes) if f else None)
                mem.update(d.boxes, poses.rois)
            vis = img.copy()
            for k, sc in zip(poses.keypoints, poses.scores):
                for u, v in SKELETON:
                    if sc[u] > LOST_THRESHOLD and sc[v] > LOST_THRESHOLD:
                        p, q = tuple(k[u].astype(int)), tuple(k[v].astype(int))
                        cv2.line(vis, p, q, (0, 0, 255), 2)
            cv2.putText(vis, name, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
            panels.append(vis)
        f = out_dir / f'cmp_{path.stem}.png'
        cv2.imwrite(str(f), np.concatenate(panels, 1))
        written.append(str(f))
    return written


def score_sources(est, coco, imgs, sources, names, refine, frames) -> dict:
    """Run one pose variant from each named box source and score it (AP, cost, persons lost)."""
    out = {}
    for s in names:
        if s not in sources:
            continue
        res, ms, crops, lost = run_variant(est, imgs, sources[s], refine, frames)
        out[s] = dict(
            coco_eval(coco, res),
            ms_per_person=ms,
            crops_per_person=crops,
            persons=len(res),
            lost=lost,
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--sources', nargs='+', default=list(SOURCES), choices=list(SOURCES))
    ap.add_argument(
        '--frames', type=int, default=3, help='frames of the synthetic track (temporal variants)'
    )
    ap.add_argument(
        '--runtime',
        default='auto',
        help='BlazePose runtime: auto | onnxruntime | torch | openvino',
    )
    ap.add_argument(
        '--precision',
        default=PipelineConfig.pose_precision,
        choices=POSE_PRECISIONS,
        help='BlazePose arithmetic on the CPU (as PipelineConfig.pose_precision; bf16: openvino)',
    )
    ap.add_argument('--device', default='cpu')
    ap.add_argument(
        '--border',
        default=PipelineConfig.pose_crop_border,
        help='BlazePose crop border: zero | replicate (default: the pipeline default)',
    )
    ap.add_argument(
        '--mmpose-config', default='', help='also score an MMPose model (its own box crops)'
    )
    ap.add_argument('--mmpose-checkpoint', default='')
    ap.add_argument('--det-file-threshold', type=float, default=0.3)
    ap.add_argument('--no-waist-cut', action='store_true', help='skip the hips-out-of-view set')
    ap.add_argument(
        '--heatmap-refine',
        choices=('on', 'off'),
        default='on' if PipelineConfig.pose_heatmap_refine else 'off',
        help='landmarks refined from the heatmaps (default: the pipeline default)',
    )
    ap.add_argument(
        '--extra-data',
        default='',
        help="MMPose's tests/data folder: also score the keypoint sets of tools/keypoint_sets.py",
    )
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'eval' / 'pose_ap.json'))
    ap.add_argument(
        '--photos',
        default=str(REPO_ROOT / 'out' / 'eval' / 'pose_photos'),
        help="folder for the shared photos drawn with the box and the default crops ('' = none)",
    )
    a = ap.parse_args(argv)
    from poseflow_ros import models
    from poseflow_ros.detect import make_detector
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    data_dir = shared_dir() / 'data' / 'coco_val_sample'
    models.fetch('rtmdet_nano_person')
    models.fetch('blazepose_full')
    detector = make_detector('onnxruntime', score_threshold=0.3)
    est = BlazePoseEstimator(
        device=a.device,
        runtime=a.runtime,
        precision=a.precision,
        border=a.border,
        heatmap_refine=a.heatmap_refine == 'on',
    )
    est.warmup()
    coco = load_coco(data_dir / 'test_coco.json')
    images = {
        i: cv2.imread(str(data_dir / coco.loadImgs(i)[0]['file_name'])) for i in coco.getImgIds()
    }
    det_file = json.loads((data_dir / 'test_coco_det_AP_H_56.json').read_text())
    sets = {
        'full': (coco, images, box_sources(coco, images, detector, det_file, a.det_file_threshold))
    }
    hips_unlabelled = sum(
        1
        for x in coco.loadAnns(coco.getAnnIds(iscrowd=False))
        if x['num_keypoints'] > 0 and (x['keypoints'][35] == 0 or x['keypoints'][38] == 0)
    )
    if not a.no_waist_cut:
        cut, cut_images = waist_cut_set(coco, images)
        cut_from = {i['id']: i['cut_from'] for i in cut.dataset['images']}
        sets['waist_cut'] = (
            cut,
            cut_images,
            box_sources(cut, cut_images, detector, det_file, a.det_file_threshold, cut_from),
        )
    if a.extra_data:
        from keypoint_sets import load_sets

        d, paths, _ = load_sets(Path(a.extra_data))
        extra = coco_from_dict(d)
        extra_images = {i: cv2.imread(str(p)) for i, p in paths.items()}
        sets['extra'] = (
            extra,
            extra_images,
            box_sources(extra, extra_images, detector, None, a.det_file_threshold),
        )
    report = {
        'data': str(data_dir),
        'extra_data': a.extra_data,
        'runtime': est.runtime,
        'precision': est.precision,
        'device': a.device,
        'border': est.border,
        'heatmap_refine': est.heatmap_refine,
        'frames': a.frames,
        'det_file_threshold': a.det_file_threshold,
        'persons_with_hips_unlabelled': hips_unlabelled,
        'sets': {},
    }
    from tqdm import tqdm

    bar = tqdm(
        total=len(sets) * len(a.variants), desc='variants', file=sys.stderr, mininterval=1.0
    )
    for set_name, (c, imgs, sources) in sets.items():
        rep = report['sets'][set_name] = {'images': len(imgs), 'variants': {}}
        for v in a.variants:
            refine, frames, est.flip_test = VARIANTS[v]
            frames = frames or a.frames
            bar.set_postfix_str(f'{set_name} {v}')
            rep['variants'][v] = score_sources(est, c, imgs, sources, a.sources, refine, frames)
            bar.update()
        if a.mmpose_config:
            from poseflow_ros.pose import make_pose_estimator

            mm = make_pose_estimator(
                'mmpose',
                device=a.device,
                mmpose_config=a.mmpose_config,
                mmpose_checkpoint=a.mmpose_checkpoint,
            )
            rep['variants']['mmpose'] = score_sources(mm, c, imgs, sources, a.sources, 0, 1)
    bar.close()
    if a.photos:
        est.flip_test = False
        report['photos'] = write_photos(est, detector, Path(a.photos), a.frames)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(
        f'runtime {est.runtime} {est.precision}, border {est.border}, '
        f'heatmap refine {a.heatmap_refine}, '
        f'temporal frames {a.frames}; '
        f'AP / AR (x100), lost = boxes without a skeleton, ms per person on this machine'
    )
    for set_name, rep in report['sets'].items():
        print(f'\n[{set_name}: {rep["images"]} images]')
        print(
            f'{"variant":16s} '
            + ' '.join(f'{s + " AP":>12s} {"AR":>5s} {"lost":>4s}' for s in a.sources)
            + f' {"crops/person":>12s} {"ms/person":>9s}'
        )
        for v, rv in rep['variants'].items():
            cells = ' '.join(
                f'{rv[s]["AP"] * 100:12.1f} {rv[s]["AR"] * 100:5.1f} {rv[s]["lost"]:4d}'
                if s in rv
                else f'{"-":>12s} {"-":>5s} {"-":>4s}'
                for s in a.sources
            )
            ms = np.mean([x['ms_per_person'] for x in rv.values()])
            crops = np.mean([x['crops_per_person'] for x in rv.values()])
            print(f'{v:16s} {cells} {crops:12.2f} {ms:9.1f}')
    print(f'\npersons with hips unlabelled in the sample: {hips_unlabelled}')
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
