"""Small multi-person keypoint test sets from MMPose's ``tests/data``, as COCO-17 ground truth.

MMPose (Apache-2.0 repository; the images keep their datasets' research-only licences) ships a
few images with annotations for each dataset it reads. Besides the COCO sample in
``shared/data``, six of them are real people with a body skeleton that maps onto COCO's;
:func:`load_sets` converts them so that ``tools/eval_pose.py --extra-data DIR`` can score BlazePose
on more than the COCO sample's 12 persons.

Per set, only the joints that have a COCO counterpart are scored (the others are unlabelled):

=============  =====================  ====================================================
set            persons (labelled)     COCO keypoints scored
=============  =====================  ====================================================
posetrack18    14 (3 video frames)    nose + 12 body joints (head_bottom / head_top dropped)
ochuman        5 (heavily occluded)   all 17
aic            9 (AI Challenger)      12 body joints (head top / neck dropped)
crowdpose      4 (crowded)            12 body joints
mhp            4 (MPII-style hips)    12 body joints
humanart_real  2 (acrobatics photo)   all 17 (HumanArt's drawn and sculpted humans left out)
=============  =====================  ====================================================

Areas: COCO's OKS divides by the person's segment area, which these sets do not give (OCHuman's
and MHP's ``area`` is the box area), so every person gets ``AREA_PER_BOX`` x its box area, the
median ratio of segment to box area on the COCO sample (0.38), to keep OKS about as strict as
COCO's. PoseTrack's ignore regions (unlabelled people) become ground-truth persons without
keypoints, which COCO's evaluation treats as "ignore", so a pose found on an unlabelled person is
not a false positive. The joint definitions differ a little between datasets (e.g. MPII's and
AIC's hips sit lower and wider than COCO's), so a fixed per-keypoint offset must not be fitted
on these sets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

AREA_PER_BOX = 0.38
# COCO index -> source index (None: not labelled in that set), in COCO-17 order
_BODY12_CROWDPOSE = [None] * 5 + list(range(12))  # l/r sh, el, wr, hip, knee, ankle == COCO 5..16
_MAPS = {
    'posetrack18': [0, None, None, 3, 4] + list(range(5, 17)),
    'ochuman': list(range(17)),
    'humanart_real': list(range(17)),
    # AIC: r sh, r el, r wr, l sh, l el, l wr, r hip, r knee, r ankle, l hip, l knee, l ankle,
    # head top, neck
    'aic': [None] * 5 + [3, 0, 4, 1, 5, 2, 9, 6, 10, 7, 11, 8],
    'crowdpose': _BODY12_CROWDPOSE,
    # MHP (MPII order): r ankle, r knee, r hip, l hip, l knee, l ankle, pelvis, thorax, neck, top,
    # r wrist, r elbow, r shoulder, l shoulder, l elbow, l wrist
    'mhp': [None] * 5 + [13, 12, 14, 11, 15, 10, 3, 2, 4, 1, 5, 0],
}
_FILES = {
    'posetrack18': ('posetrack18', 'annotations/test_posetrack18_val.json'),
    'ochuman': ('ochuman', 'test_ochuman.json'),
    'humanart_real': ('humanart', 'test_humanart.json'),
    'aic': ('aic', 'test_aic.json'),
    'crowdpose': ('crowdpose', 'test_crowdpose.json'),
    'mhp': ('mhp', 'test_mhp.json'),
}
SETS = tuple(_FILES)


def _image_path(root: Path, name: str, file_name: str) -> Path:
    if name == 'humanart_real':  # the json names 'HumanArt/images/<kind>/...'
        return root / 'humanart' / file_name.split('images/', 1)[1]
    return root / _FILES[name][0] / file_name


def _convert_keypoints(kp: list, mapping: list) -> np.ndarray:
    src = np.asarray(kp, np.float64).reshape(-1, 3)
    out = np.zeros((17, 3))
    for c, s in enumerate(mapping):
        if s is not None and src[s, 2] > 0:
            out[c] = [src[s, 0], src[s, 1], 2.0]
    return out


def load_set(root: Path, name: str) -> Tuple[dict, Dict[int, Path]]:
    """Load one set -> (COCO-format ground truth dict in COCO-17, {image id: image path})."""
    folder, ann = _FILES[name]
    d = json.loads((Path(root) / folder / ann).read_text())
    mapping = _MAPS[name]
    images, paths, anns = [], {}, []
    for im in d['images']:
        if name == 'humanart_real' and '/real_human/' not in im['file_name']:
            continue
        p = _image_path(Path(root), name, im['file_name'])
        if not p.is_file():
            continue
        images.append({k: im[k] for k in ('id', 'file_name', 'height', 'width')})
        paths[im['id']] = p
        # PoseTrack: regions of unlabelled people -> persons without keypoints (COCOeval
        # ignores them)
        for xs, ys in zip(im.get('ignore_regions_x', []), im.get('ignore_regions_y', [])):
            if len(xs) < 3:
                continue
            x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
            anns.append(
                _ann(len(anns) + 1, im['id'], np.zeros((17, 3)), [x0, y0, x1 - x0, y1 - y0])
            )
    for a in d['annotations']:
        if a['image_id'] not in paths or a.get('iscrowd', 0):
            continue
        kp = _convert_keypoints(a['keypoints'], mapping)
        anns.append(_ann(len(anns) + 1, a['image_id'], kp, list(map(float, a['bbox']))))
    cats = [
        {'id': 1, 'name': 'person', 'supercategory': 'person', 'keypoints': [], 'skeleton': []}
    ]
    return {'images': images, 'annotations': anns, 'categories': cats}, paths


def _ann(ann_id: int, image_id: int, kp: np.ndarray, bbox: list) -> dict:
    w, h = float(bbox[2]), float(bbox[3])
    return {
        'id': ann_id,
        'image_id': image_id,
        'category_id': 1,
        'keypoints': kp.reshape(-1).tolist(),
        'num_keypoints': int((kp[:, 2] > 0).sum()),
        'bbox': [float(bbox[0]), float(bbox[1]), w, h],
        'area': AREA_PER_BOX * w * h,
        'iscrowd': 0,
        'segmentation': [],
    }


def load_sets(root: Path, names=SETS) -> Tuple[dict, Dict[int, Path], Dict[int, str]]:
    """Merge all sets found under ``root`` (MMPose's ``tests/data``) into one COCO-17 ground truth.

    Returns (dict, {image id: path}, {image id: set name}); image and annotation ids are
    renumbered.
    """
    out = {'images': [], 'annotations': [], 'categories': None}
    paths, set_of = {}, {}
    for name in names:
        if not (Path(root) / _FILES[name][0] / _FILES[name][1]).is_file():
            continue
        d, p = load_set(root, name)
        remap = {}
        for im in d['images']:
            remap[im['id']] = new = len(out['images']) + 1
            out['images'].append(dict(im, id=new))
            paths[new], set_of[new] = p[im['id']], name
        for a in d['annotations']:
            out['annotations'].append(
                dict(a, id=len(out['annotations']) + 1, image_id=remap[a['image_id']])
            )
        out['categories'] = d['categories']
    return out, paths, set_of
