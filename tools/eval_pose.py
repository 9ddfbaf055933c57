#!/usr/bin/env python3
"""COCO keypoint AP of our pose backends on the shared COCO val sample (`make eval-pose`).

For each backend, keypoints are predicted top-down (a) from the ground-truth person boxes and
(b) from our RTMDet-nano detector's boxes, then scored with pycocotools' COCOeval (iouType
'keypoints', the standard OKS sigmas). Writes out/eval/pose.json and prints a table.

    .venv/bin/python tools/eval_pose.py [--backends blazepose mmpose] [--mmpose-config NAME --mmpose-checkpoint PTH]

The sample is small (4 images, 14 persons): the numbers are a regression guard, not a
benchmark comparable to full COCO val.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseflow_ros.paths import REPO_ROOT, shared_dir  # noqa: E402

METRICS = ('AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl')


def predict(estimator, coco, img_dir: Path, boxes_by_image: dict) -> list:
    """Run the estimator on every image's boxes -> COCO keypoint results."""
    results = []
    for img_id, boxes in boxes_by_image.items():
        info = coco.loadImgs(img_id)[0]
        img = cv2.imread(str(img_dir / info['file_name']))
        if not len(boxes):
            continue
        xyxy = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b, _ in boxes], np.float32)
        poses = estimator.estimate(img, xyxy)
        for i, (_, box_score) in enumerate(boxes):
            kp = np.concatenate([poses.keypoints[i], poses.scores[i][:, None]], 1)
            vis = poses.scores[i] > 0.2
            kp_score = float(poses.scores[i][vis].mean()) if vis.any() else 0.0
            results.append({'image_id': img_id, 'category_id': 1, 'keypoints': kp.reshape(-1).tolist(),
                            'score': float(box_score) * kp_score})
    return results


def coco_eval(coco, results) -> dict:
    from pycocotools.cocoeval import COCOeval
    if not results:
        return {m: 0.0 for m in METRICS}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = coco.loadRes(results)
        ev = COCOeval(coco, dt, 'keypoints')
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {m: float(v) for m, v in zip(METRICS, ev.stats)}


def evaluate_backend(estimator, detector, data_dir: Path) -> dict:
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(data_dir / 'test_coco.json'))
    gt_boxes = {}
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))
        gt_boxes[img_id] = [(a['bbox'], 1.0) for a in anns if a['num_keypoints'] > 0]
    det_boxes = {}
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        d = detector.detect(cv2.imread(str(data_dir / info['file_name'])))
        det_boxes[img_id] = [([b[0], b[1], b[2] - b[0], b[3] - b[1]], s) for b, s in zip(d.boxes, d.scores)]
    out = {}
    for name, boxes in (('gt_boxes', gt_boxes), ('detector_boxes', det_boxes)):
        t = time.perf_counter()
        res = predict(estimator, coco, data_dir, boxes)
        out[name] = coco_eval(coco, res)
        out[name]['persons'] = len(res)
        out[name]['seconds'] = time.perf_counter() - t
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--backends', nargs='+', default=['blazepose:onnxruntime', 'blazepose:torch'],
                    help='blazepose[:onnxruntime|torch] (the same weights on two runtimes), mmpose (needs '
                         '--mmpose-config and --mmpose-checkpoint: real weights; none can be downloaded here)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--fp16', action='store_true')
    ap.add_argument('--mmpose-config', default='')
    ap.add_argument('--mmpose-checkpoint', default='')
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'eval' / 'pose.json'))
    a = ap.parse_args(argv)
    from poseflow_ros import models
    from poseflow_ros.detect import make_detector
    from poseflow_ros.pose import make_pose_estimator
    data_dir = shared_dir() / 'data' / 'coco_val_sample'
    models.fetch('rtmdet_nano_person')
    detector = make_detector('rtmdet_onnx', score_threshold=0.3)
    report = {'data': str(data_dir), 'device': a.device, 'fp16': a.fp16, 'backends': {}}
    for b in a.backends:
        kind, _, runtime = b.partition(':')
        if kind == 'blazepose':
            models.fetch('blazepose_full')
        est = make_pose_estimator(kind, device=a.device, fp16=a.fp16, mmpose_config=a.mmpose_config,
                                  mmpose_checkpoint=a.mmpose_checkpoint, runtime=runtime or 'auto')
        report['backends'][b] = evaluate_backend(est, detector, data_dir)
        if kind == 'mmpose':
            report['backends'][b]['config'] = a.mmpose_config
            report['backends'][b]['checkpoint'] = a.mmpose_checkpoint
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=2))
    print(f'{"backend":22s} {"boxes":15s} ' + ' '.join(f'{m:>6s}' for m in ('AP', 'AP50', 'AP75', 'AR')))
    for b, r in report['backends'].items():
        for boxes in ('gt_boxes', 'detector_boxes'):
            m = r[boxes]
            print(f'{b:22s} {boxes:15s} ' + ' '.join(f'{m[k] * 100:6.1f}' for k in ('AP', 'AP50', 'AP75', 'AR')))
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
