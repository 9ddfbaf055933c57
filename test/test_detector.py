"""The RTMDet-nano person detector finds the people in real photos.

Person counts were checked by eye on each photo (boxes drawn and looked at):
children 2, couple 2 (seen from behind), friends_01 3, friends_02 1, friends_03 5, three 3.
"""
import cv2
import numpy as np
import pytest

from poseflow_ros import models
from poseflow_ros.detect import make_detector

EXACT = {'children.jpg': 2, 'couple.jpg': 2, 'friends_01.jpg': 3, 'friends_02.jpg': 1}


@pytest.mark.parametrize('name,n', sorted(EXACT.items()))
def test_counts_on_clear_photos(detector, images_dir, name, n):
    img = cv2.imread(str(images_dir / name))
    det = detector.detect(img)
    confident = det.scores >= 0.5
    assert confident.sum() == n, (name, det.scores)


def test_crowded_photos_find_everyone(detector, images_dir):
    # friends_03: 5 people close together; three: 3 women seated/standing in dim light.
    d5 = detector.detect(cv2.imread(str(images_dir / 'friends_03.jpg')))
    d3 = detector.detect(cv2.imread(str(images_dir / 'three.jpg')))
    assert 5 <= len(d5) <= 6, d5.scores
    assert 3 <= len(d3) <= 4, d3.scores


def test_boxes_are_in_image_and_sorted(detector, images_dir):
    img = cv2.imread(str(images_dir / 'couple.jpg'))
    det = detector.detect(img)
    h, w = img.shape[:2]
    assert (det.boxes[:, 0] >= 0).all() and (det.boxes[:, 2] <= w).all()
    assert (det.boxes[:, 1] >= 0).all() and (det.boxes[:, 3] <= h).all()
    assert (np.diff(det.scores) <= 0).all()
    # the two walkers stand side by side in the middle of the frame, each taller than wide
    xs = sorted(((b[0] + b[2]) / 2) for b in det.boxes[det.scores > 0.5])
    assert len(xs) == 2 and xs[0] < w / 2 < xs[1]
    hw = det.boxes[:, 3] - det.boxes[:, 1], det.boxes[:, 2] - det.boxes[:, 0]
    assert (hw[0] > hw[1]).all()


def test_empty_image_gives_no_person(detector):
    assert len(detector.detect(np.full((480, 640, 3), 127, np.uint8))) == 0


def test_missing_model_names_the_fix(tmp_path):
    with pytest.raises(models.ModelError, match='python -m poseflow_ros.models fetch rtmdet_nano_person'):
        make_detector('rtmdet_onnx', models_dir=str(tmp_path))


def test_corrupt_model_fails_sha256(tmp_path):
    p = tmp_path / 'rtmdet_nano_person' / 'end2end.onnx'
    p.parent.mkdir(parents=True)
    p.write_bytes(b'garbage')
    with pytest.raises(models.ModelError, match='sha256 mismatch'):
        make_detector('rtmdet_onnx', models_dir=str(tmp_path))
