"""COCO-17 keypoint definitions and the BlazePose-33 -> COCO-17 mapping.

The same names, order and skeleton are published as constants in
``poseflow_ros/msg/Keypoint.msg`` so that ROS subscribers need not hard-code them.
"""

import numpy as np

KEYPOINT_NAMES = (
    'nose',
    'left_eye',
    'right_eye',
    'left_ear',
    'right_ear',
    'left_shoulder',
    'right_shoulder',
    'left_elbow',
    'right_elbow',
    'left_wrist',
    'right_wrist',
    'left_hip',
    'right_hip',
    'left_knee',
    'right_knee',
    'left_ankle',
    'right_ankle',
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KEYPOINT_INDEX = {n: i for i, n in enumerate(KEYPOINT_NAMES)}

# Skeleton edges (0-based indices), the COCO person skeleton.
SKELETON = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)

# Keypoint score levels (scores in [0, 1]: BlazePose visibility x pose flag, MMPose confidence)
# that the defaults of the keypoint thresholds use. Two levels on purpose, because the uses differ
# in what a wrong keypoint costs:
# - VISIBLE: where a joint is. Drawing (node keypoint_score_threshold), the tracker's pose cost and
#   keypoint smoothing, boxes from poses (detection_interval), colour sampling, 3D from depth. A
#   faint but roughly placed joint still helps there; OKS and the smoothing filter tolerate its
#   error.
# - RELIABLE: what a joint means. Joint angles and posture labels (posture.keypoint_threshold): one
#   misplaced joint flips a label, so only confident joints vote.
KEYPOINT_SCORE_VISIBLE = 0.3
KEYPOINT_SCORE_RELIABLE = 0.5

# Left/right pairs (for horizontal flips: the mirror image of a skeleton swaps each pair).
FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))

# Per-keypoint OKS sigmas from the COCO evaluation code.
OKS_SIGMAS = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ],
        dtype=np.float32,
    )
    / 10.0
)

# BlazePose landmark index for each COCO keypoint. BlazePose's 33 landmarks:
# 0 nose, 1-3 left eye (inner, centre, outer), 4-6 right eye, 7 left ear, 8 right ear,
# 9/10 mouth, 11/12 shoulders, 13/14 elbows, 15/16 wrists, 17-22 hand points,
# 23/24 hips, 25/26 knees, 27/28 ankles, 29/30 heels, 31/32 foot index.
# "left" is the person's left in both conventions.
BLAZEPOSE_TO_COCO = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
