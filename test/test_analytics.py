"""Joint angles, posture labels and the symmetry score.

Hand-built skeletons with known geometry, and real photos.
"""

import numpy as np
import pytest

from poseflow_ros.analytics import (
    ANGLE_NAMES,
    ARMS_RAISED,
    POSTURES,
    SITTING,
    STANDING,
    UNKNOWN,
    PostureConfig,
    classify_posture,
    joint_angles,
    symmetry_score,
)
from poseflow_ros.coco import KEYPOINT_INDEX as K


def skeleton(**overrides):
    """Upright person facing the camera, 100 px torso, arms hanging, legs straight.

    Image y points down.
    """
    p = {
        'nose': (50, 0),
        'left_eye': (55, -5),
        'right_eye': (45, -5),
        'left_ear': (60, 0),
        'right_ear': (40, 0),
        'left_shoulder': (70, 30),
        'right_shoulder': (30, 30),
        'left_elbow': (70, 80),
        'right_elbow': (30, 80),
        'left_wrist': (70, 130),
        'right_wrist': (30, 130),
        'left_hip': (65, 130),
        'right_hip': (35, 130),
        'left_knee': (65, 190),
        'right_knee': (35, 190),
        'left_ankle': (65, 250),
        'right_ankle': (35, 250),
    }
    p.update(overrides)
    kp = np.zeros((17, 2), np.float32)
    for n, xy in p.items():
        kp[K[n]] = xy
    return kp, np.ones(17, np.float32)


def angle(name, kp, sc):
    return joint_angles(kp[None], sc[None])[0][ANGLE_NAMES.index(name)]


def test_angles_of_straight_limbs():
    kp, sc = skeleton()
    assert angle('left_elbow', kp, sc) == pytest.approx(180, abs=0.1)
    assert angle('right_knee', kp, sc) == pytest.approx(180, abs=0.1)
    # arm hangs vertically, the torso leans 5 px over 100 px: the shoulder angle is that lean
    assert angle('left_shoulder', kp, sc) == pytest.approx(np.degrees(np.arctan2(5, 100)), abs=0.1)
    # hip: shoulder (70,30) - hip (65,130) - knee (65,190): almost straight
    expected = 180 - np.degrees(np.arctan2(5, 100))
    assert angle('left_hip', kp, sc) == pytest.approx(expected, abs=0.1)


def test_right_angle_elbow_and_missing_keypoint():
    kp, sc = skeleton(left_wrist=(120, 80))  # forearm horizontal
    assert angle('left_elbow', kp, sc) == pytest.approx(90, abs=0.1)
    sc[K['left_wrist']] = 0.1
    assert np.isnan(angle('left_elbow', kp, sc))


def test_postures():
    kp, sc = skeleton()
    assert classify_posture(kp, sc) == STANDING
    sit, sc2 = skeleton(
        left_knee=(125, 130), right_knee=(95, 130), left_ankle=(125, 190), right_ankle=(95, 190)
    )
    assert classify_posture(sit, sc2) == SITTING
    up, sc3 = skeleton(
        left_elbow=(75, -10), right_elbow=(25, -10), left_wrist=(80, -50), right_wrist=(20, -50)
    )
    assert classify_posture(up, sc3) == ARMS_RAISED
    one, sc4 = skeleton(left_elbow=(75, -10), left_wrist=(80, -50))
    assert classify_posture(one, sc4) == STANDING
    assert classify_posture(one, sc4, PostureConfig(one_arm_counts=True)) == ARMS_RAISED
    sc4[K['right_wrist']] = 0.1  # the other hand is not visible: the raised one decides
    assert classify_posture(one, sc4) == ARMS_RAISED
    sc4[K['left_wrist']] = 0.1  # no wrist visible: no evidence of raised arms
    assert classify_posture(one, sc4) != ARMS_RAISED


def test_unknown_when_legs_invisible_and_thresholds_are_parameters():
    kp, sc = skeleton()
    sc[[K['left_knee'], K['right_knee'], K['left_ankle'], K['right_ankle']]] = 0.0
    assert classify_posture(kp, sc) == UNKNOWN
    lean, sc2 = skeleton(
        left_knee=(100, 180), right_knee=(70, 180), left_ankle=(100, 240), right_ankle=(70, 240)
    )
    hips = [angle('left_hip', lean, sc2), angle('right_hip', lean, sc2)]
    assert 120 < min(hips) and max(hips) < 160
    assert (
        classify_posture(lean, sc2, PostureConfig(sitting_max_hip_angle=max(hips) + 1)) == SITTING
    )
    assert (
        classify_posture(lean, sc2, PostureConfig(sitting_max_hip_angle=min(hips) - 1)) == UNKNOWN
    )


@pytest.fixture(scope='module')
def photo_postures(detector, images_dir):
    """Posture labels of the people in the shared photos, left to right (detector + BlazePose)."""
    import cv2
    from poseflow_ros.pipeline import PosePipeline
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator
    from poseflow_ros.track import Tracker

    pipe = PosePipeline(detector, BlazePoseEstimator(), Tracker())
    out = {}
    for name in ('children.jpg', 'couple.jpg', 'three.jpg', 'friends_02.jpg'):
        img = cv2.imread(str(images_dir / name))
        d = detector.detect(img)
        boxes = d.boxes[d.scores >= 0.45]
        boxes = boxes[np.argsort(boxes[:, 0])]
        p = pipe.pose.estimate(img, boxes)
        angles = joint_angles(p.keypoints, p.scores, pipe.posture.keypoint_threshold)
        out[name] = [
            POSTURES[classify_posture(p.keypoints[i], p.scores[i], pipe.posture, angles[i])]
            for i in range(len(boxes))
        ]
    return out


def test_postures_on_real_photos(photo_postures):
    """Checked by eye.

    children.jpg, a boy cheering with both arms up (his right hand leaves the image) and a girl at
    a desk pointing at a laptop; couple.jpg, two people walking away, upright; three.jpg, three
    women seated on a bench/table; friends_02.jpg, a head-and-shoulders portrait (no legs).
    """
    assert photo_postures['children.jpg'][0] == 'arms_raised'
    assert photo_postures['children.jpg'][1] != 'arms_raised'
    assert photo_postures['couple.jpg'] == ['standing', 'standing']
    assert photo_postures['three.jpg'] == ['sitting', 'sitting', 'sitting']
    assert photo_postures['friends_02.jpg'] == ['unknown']


def sym(kp, sc):
    return float(symmetry_score(joint_angles(kp[None], sc[None]))[0])


def test_symmetry_of_hand_built_poses():
    kp, sc = skeleton()
    assert sym(kp, sc) == pytest.approx(1.0)  # mirror-symmetric
    # one straight arm raised sideways to the horizontal: left shoulder angle 90 deg more than the
    # right, every other pair equal -> RMS over 4 pairs = 45 deg -> 0.75
    side, sc2 = skeleton(left_elbow=(120, 30), left_wrist=(170, 30))
    assert sym(side, sc2) == pytest.approx(0.75, abs=1e-3)
    up, sc3 = skeleton(left_elbow=(70, -20), left_wrist=(70, -70))  # straight up: about 0.5
    assert sym(up, sc3) == pytest.approx(1 - np.sqrt(174.2**2 / 4) / 180, abs=2e-3)
    # the mirror image (right arm raised instead) scores the same
    mirror, sc4 = skeleton(right_elbow=(-20, 30), right_wrist=(-70, 30))
    assert sym(mirror, sc4) == pytest.approx(sym(side, sc2), abs=1e-3)
    # both arms raised the same way: symmetric again
    both, sc5 = skeleton(
        left_elbow=(120, 30), left_wrist=(170, 30), right_elbow=(-20, 30), right_wrist=(-70, 30)
    )
    assert sym(both, sc5) == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= sym(up, sc3) < sym(side, sc2) < sym(kp, sc) <= 1.0


def test_symmetry_nan_when_a_side_is_not_visible():
    kp, sc = skeleton(left_elbow=(120, 30), left_wrist=(170, 30))
    right = [K[f'right_{j}'] for j in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')]
    sc[right] = 0.1  # person in profile: right side hidden
    assert np.isnan(sym(kp, sc))
    # only the legs have both sides: the arm difference no longer counts
    kp, sc = skeleton(left_elbow=(120, 30), left_wrist=(170, 30))
    sc[[K['right_wrist'], K['right_elbow']]] = 0.1
    assert sym(kp, sc) == pytest.approx(1.0, abs=1e-3)
    out = symmetry_score(np.full((3, 8), np.nan))
    assert out.shape == (3,) and out.dtype == np.float32 and np.isnan(out).all()
    assert symmetry_score(np.zeros((0, 8))).shape == (0,)


def test_pipeline_analyse_returns_symmetry():
    from poseflow_ros.pipeline import PosePipeline
    from poseflow_ros.pose import PoseEstimator
    from poseflow_ros.types import TrackOutput, TrackState

    kp, sc = skeleton()
    side, sc2 = skeleton(left_elbow=(120, 30), left_wrist=(170, 30))
    state = list(TrackState)[0]
    tracks = [
        TrackOutput(i, state, 1, 1, 0, np.zeros(4, np.float32), 1.0, k, s)
        for i, (k, s) in enumerate([(kp, sc), (side, sc2), (None, None)])
    ]

    class NoPose(PoseEstimator):  # analyse() needs no stage; the pipeline reads pose.crop_mode
        def estimate(self, image_bgr, boxes):
            raise AssertionError('not called')

    pipe = PosePipeline(None, NoPose(), None)
    angles, postures, symmetry = pipe.analyse(tracks)
    assert symmetry.shape == (3,) and symmetry.dtype == np.float32
    assert symmetry[0] == pytest.approx(1.0) and symmetry[1] == pytest.approx(0.75, abs=1e-3)
    assert np.isnan(symmetry[2]) and postures[0] == STANDING and angles.shape == (3, 8)
    assert all(len(x) == 0 for x in pipe.analyse([]))


@pytest.fixture(scope='module')
def photo_symmetry(detector, images_dir):
    """Symmetry scores of the people in two shared photos, left to right (detector + BlazePose)."""
    import cv2
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    pose = BlazePoseEstimator()
    out = {}
    for name in ('children.jpg', 'couple.jpg'):
        img = cv2.imread(str(images_dir / name))
        d = detector.detect(img)
        boxes = d.boxes[d.scores >= 0.45]
        boxes = boxes[np.argsort(boxes[:, 0])]
        p = pose.estimate(img, boxes)
        out[name] = symmetry_score(
            joint_angles(p.keypoints, p.scores, PostureConfig().keypoint_threshold)
        )
    return out


def test_symmetry_on_real_photos(photo_symmetry):
    """Checked by eye.

    couple.jpg, two people walking away side by side, arms down, legs straight: symmetric (measured
    0.95 and 0.94); children.jpg, the girl points at the laptop with one arm stretched out, the
    other bent on the desk: clearly less symmetric (measured 0.72); the boy's right hand is out of
    the image and his hips are hidden behind the desk, so no right-side angle: NaN.
    """
    walkers = photo_symmetry['couple.jpg']
    boy, girl = photo_symmetry['children.jpg']
    assert len(walkers) == 2 and (walkers >= 0.88).all(), walkers
    assert girl <= 0.8 and girl < walkers.min() - 0.1, (girl, walkers)
    assert np.isnan(boy), boy
