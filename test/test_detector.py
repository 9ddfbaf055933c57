"""The RTMDet-nano person detector finds the people in real photos.

Person counts were checked by eye on each photo (boxes drawn and looked at): children 2, couple 2
(seen from behind), friends_01 3, friends_02 1, friends_03 5, three 3. Also: the input-size /
canvas settings (the graph's axes are dynamic) on real MOT17 and photo frames.
"""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import mot17_frame

from poseflow_ros import models, pipeline
from poseflow_ros.detect import make_detector
from poseflow_ros.geometry import iou_matrix
from poseflow_ros.pipeline import PipelineConfig, PosePipeline

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
    with pytest.raises(
        models.ModelError, match='python -m poseflow_ros.models fetch rtmdet_nano_person'
    ):
        make_detector('onnxruntime', models_dir=str(tmp_path))


def test_corrupt_model_fails_sha256(tmp_path):
    p = tmp_path / 'rtmdet_nano_person' / 'end2end.onnx'
    p.parent.mkdir(parents=True)
    p.write_bytes(b'garbage')
    with pytest.raises(models.ModelError, match='sha256 mismatch'):
        make_detector('onnxruntime', models_dir=str(tmp_path))


def test_input_size_and_canvas_shapes(detector):
    assert detector.input_size == 320 and detector.canvas_size((1080, 1920)) == (320, 320)
    d = make_detector('onnxruntime', input_size=1280, canvas='fit')
    assert d.canvas_size((1080, 1920)) == (1280, 736)  # 720 rounded up to a multiple of 32
    assert d.canvas_size((480, 640)) == (1280, 960)
    x, scale = d.preprocess(np.zeros((1080, 1920, 3), np.uint8))
    assert x.shape == (1, 3, 736, 1280) and scale == pytest.approx((2 / 3, 2 / 3), rel=1e-3)
    with pytest.raises(ValueError, match='multiple of 32'):
        make_detector('onnxruntime', input_size=330)
    with pytest.raises(ValueError, match="'square', 'fit'"):
        make_detector('onnxruntime', canvas='round')


def test_larger_input_finds_the_distant_pedestrians():
    """The same ONNX at 640 (its axes are dynamic).

    On MOT17-04 frame 1 (25 pedestrians about 100 px tall in 1920x1080) it finds far more than at
    320 (over the 8 frames 59 -> 92 %).
    """
    img, gt = mot17_frame()

    def found(d):
        return int((iou_matrix(gt, d.boxes).max(1) >= 0.5).sum()) if len(d) else 0

    n320 = found(make_detector('onnxruntime', max_detections=100).detect(img))
    n640 = found(make_detector('onnxruntime', input_size=640, max_detections=100).detect(img))
    assert n640 >= n320 + 5 and n640 >= 0.8 * len(gt), (n320, n640, len(gt))


def test_clear_photos_same_people_at_448(images_dir):
    """448 (the setting for scenes with small people).

    The same people in the clear photos as at 320.
    """
    d320 = make_detector('onnxruntime', score_threshold=0.5)
    d448 = make_detector('onnxruntime', score_threshold=0.5, input_size=448)
    for name, n in sorted(EXACT.items()):
        img = cv2.imread(str(images_dir / name))
        a, b = d320.detect(img), d448.detect(img)
        assert len(a) == len(b) == n, (name, a.scores, b.scores)
        assert (iou_matrix(a.boxes, b.boxes).max(1) > 0.8).all(), name


def test_fixed_shape_export_names_the_setting(tmp_path):
    """A model exported with a static input takes only that size: the error names the settings."""
    import onnx

    m = onnx.load(str(models.model_path('rtmdet_nano_person')))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 320
    path = tmp_path / 'static320.onnx'
    onnx.save(m, str(path))
    static = make_detector('onnxruntime', model_path=str(path))
    assert len(static.detect(np.zeros((480, 640, 3), np.uint8))) == 0
    with pytest.raises(ValueError, match='detector_input_size'):
        make_detector('onnxruntime', model_path=str(path), input_size=640)
    with pytest.raises(ValueError, match='detector_canvas'):
        make_detector('onnxruntime', model_path=str(path), canvas='fit')


def test_pipeline_passes_the_detector_settings(monkeypatch):
    built = []
    monkeypatch.setattr(pipeline, 'make_detector', lambda kind, **kw: built.append(kw) or object())
    pose = SimpleNamespace(crop_mode='box', set_crop=lambda *a: None)  # no model loaded
    monkeypatch.setattr(pipeline, 'make_pose_estimator', lambda *a, **kw: pose)
    PosePipeline.from_config(PipelineConfig(device='cpu'))
    PosePipeline.from_config(
        PipelineConfig(
            device='cpu',
            detector_input_size=960,
            detector_canvas='fit',
            detector_tile_size=640,
            detector_tile_overlap=0.3,
        )
    )
    assert (built[0]['input_size'], built[0]['canvas'], built[0]['tile_size']) == (
        320,
        'square',
        0,
    )
    assert (
        built[1]['input_size'],
        built[1]['canvas'],
        built[1]['tile_size'],
        built[1]['tile_overlap'],
    ) == (960, 'fit', 640, 0.3)
    with pytest.raises(ValueError):
        PipelineConfig(device='cpu', detector_canvas='round')
