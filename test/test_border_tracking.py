"""Image-border rules of the tracker.

A person who walked out is not handed to whoever enters there next; occlusions in the middle and
detector blinks at the border keep their id.
"""

import numpy as np
import pytest

from poseflow_ros.track import Tracker, TrackerConfig
from poseflow_ros.track.matching import pose_shape_oks
from poseflow_ros.types import TrackerInput

W, H = 640, 480
# COCO-17 pose in box coordinates (0..1), seen from the front; BACK = seen from behind (mirrored,
# no face)
FRONT = np.array(
    [
        [0.5, 0.08],
        [0.55, 0.06],
        [0.45, 0.06],
        [0.6, 0.08],
        [0.4, 0.08],
        [0.75, 0.2],
        [0.25, 0.2],
        [0.8, 0.37],
        [0.2, 0.37],
        [0.8, 0.52],
        [0.2, 0.52],
        [0.65, 0.52],
        [0.35, 0.52],
        [0.65, 0.73],
        [0.35, 0.73],
        [0.65, 0.95],
        [0.35, 0.95],
    ]
)
BACK = FRONT * [-1, 1] + [1, 0]
# arms raised, legs apart: far from FRONT in OKS
ARMS_UP = FRONT.copy()
ARMS_UP[7:11, 1] = [0.05, 0.05, -0.1, -0.1]
ARMS_UP[13:17, 0] = [0.9, 0.1, 1.0, 0.0]


def person(x, yc, w, h, template=FRONT, back=False):
    """Detector view of a person whose full box starts at ``x``.

    Box clipped to the image, keypoints outside it scored 0.05, face unscored from behind; also the
    visible fraction of the width.
    """
    full = np.array([x, yc - h / 2, x + w, yc + h / 2])
    kp = full[:2] + (BACK if back else template) * (full[2:] - full[:2])
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < W) & (kp[:, 1] >= 0) & (kp[:, 1] < H)
    sc = np.where(inside, 0.9, 0.05)
    if back:
        sc[:5] = 0.1
    b = full.copy()
    b[[0, 2]] = np.clip(b[[0, 2]], 0, W)
    b[[1, 3]] = np.clip(b[[1, 3]], 0, H)
    return b, kp, sc, (b[2] - b[0]) / w


def exit_then_enter(gap=12, speed=1.0, scale=2**0.5, vis_min=0.5, back=True, template=FRONT):
    """Build frames: A (60 x 180 px) walks slowly out of the right edge.

    The detector drops A when less than half of it is visible. ``gap`` frames later B, ``scale``
    times A's size, enters at the same edge walking left (first seen half visible).
    """
    frames = []
    x, w, h, yc = 480.0, 60.0, 180.0, 240.0
    while True:
        b, kp, sc, vis = person(x, yc, w, h)
        if vis < vis_min:
            break
        frames.append([(b, kp, sc, 'A')])
        x += speed
    frames += [[] for _ in range(gap)]
    w2, h2 = w * scale, h * scale
    x2 = W - vis_min * w2
    for _ in range(30):
        b, kp, sc, _ = person(x2, yc, w2, h2, template, back)
        frames.append([(b, kp, sc, 'B')])
        x2 -= speed
    return frames


def ids_of(frames, image_size=(W, H), poses=True, **kw):
    tr = Tracker(TrackerConfig(**kw))
    ids = {}
    for f in frames:
        boxes = np.array([q[0] for q in f], np.float32).reshape(-1, 4)
        kps = np.array([q[1] for q in f], np.float32).reshape(-1, 17, 2) if poses else None
        sc = np.array([q[2] for q in f], np.float32).reshape(-1, 17) if poses else None
        outs = tr.update(
            TrackerInput(boxes, np.full(len(f), 0.9, np.float32), kps, sc, image_size=image_size)
        )
        for o in outs:
            if o.detection_index >= 0:
                ids.setdefault(f[o.detection_index][3], set()).add(o.track_id)
    return ids


@pytest.mark.parametrize('speed', [0.5, 1.0])
@pytest.mark.parametrize('scale', [2**0.5, 2.0])
def test_larger_person_entering_at_the_exit_edge_gets_a_new_id(speed, scale):
    frames = exit_then_enter(gap=12, speed=speed, scale=scale)
    new = ids_of(frames)
    assert new['A'] == {1} and len(new['B']) == 1 and 1 not in new['B']
    if scale < 1.5:
        # the trap: without the image size (no border rules) IoU + pose hand A's id to B
        assert ids_of(frames, image_size=None)['B'] == {1}
    # boxes only (no pose): the size check alone keeps them apart
    assert 1 not in ids_of(frames, poses=False)['B']


def test_same_size_person_with_another_pose_at_the_border_gets_a_new_id():
    frames = exit_then_enter(gap=12, speed=1.0, scale=1.0, back=False, template=ARMS_UP)
    assert ids_of(frames, image_size=None)['B'] == {1}  # without border rules: handed over
    new = ids_of(frames)
    assert new['A'] == {1} and 1 not in new['B']
    assert ids_of(frames, border_min_oks=0.0)['B'] == {
        1
    }  # it is the pose check that tells them apart


def test_known_limit_same_size_and_pose_without_appearance():
    """Same size, same place, a pose that matches and no appearance features: B continues A's id.

    The pose is a symmetric stance seen from behind; nothing tells the two apart. Appearance
    features (embedder) are the cue for this case.
    """
    frames = exit_then_enter(gap=12, speed=1.0, scale=1.0, back=True)
    assert ids_of(frames)['B'] == {1}
    emb = np.eye(8, dtype=np.float32)[:2]  # A and B look different
    tr = Tracker(TrackerConfig())
    ids = {}
    for f in frames:
        boxes = np.array([q[0] for q in f], np.float32).reshape(-1, 4)
        kps = np.array([q[1] for q in f], np.float32).reshape(-1, 17, 2)
        sc = np.array([q[2] for q in f], np.float32).reshape(-1, 17)
        feats = np.array([emb[int(q[3] == 'B')] for q in f], np.float32).reshape(-1, 8)
        for o in tr.update(
            TrackerInput(
                boxes, np.full(len(f), 0.9, np.float32), kps, sc, feats, image_size=(W, H)
            )
        ):
            if o.detection_index >= 0:
                ids.setdefault(f[o.detection_index][3], set()).add(o.track_id)
    assert ids['A'] == {1} and 1 not in ids['B']


def test_occlusion_in_the_middle_keeps_the_id():
    """A person walking in the middle of the image is hidden for 12 frames and comes back.

    Same id, with or without the border rules.
    """
    frames = []
    for k in range(50):
        if 20 <= k < 32:
            frames.append([])
            continue
        b, kp, sc, _ = person(200 + 3 * k, 240, 60, 180)
        frames.append([(b, kp, sc, 'A')])
    assert ids_of(frames) == {'A': {1}} == ids_of(frames, image_size=None)


def test_blink_at_the_border_keeps_the_id():
    """A person half out of the image at the right edge, missed for 4 frames, keeps the id.

    The detector misses them (e.g. behind a passer-by); the same box and pose come back.
    """
    frames = []
    for k in range(30):
        b, kp, sc, _ = person(W - 40 + 0.2 * np.sin(k), 240, 60, 180)
        frames.append([] if 10 <= k < 14 else [(b, kp, sc, 'A')])
    assert ids_of(frames) == {'A': {1}}


def test_track_that_left_the_image_ends_quickly():
    def ended_at(image_size):
        tr = Tracker(TrackerConfig(max_age=30))
        x, k = 500.0, 0
        while True:
            b, kp, sc, vis = person(x, 240, 60, 180)
            if vis < 0.4:
                break
            tr.update(
                TrackerInput(
                    b[None].astype(np.float32),
                    np.array([0.9], np.float32),
                    kp[None],
                    sc[None],
                    image_size=image_size,
                )
            )
            x += 6.0
            k += 1
        last = k
        while True:
            tr.update(TrackerInput(np.zeros((0, 4)), np.zeros(0), image_size=image_size))
            k += 1
            if tr.ended_ids:
                return k - last

    assert ended_at((W, H)) <= 5  # half outside after a few predicted frames, + border_max_age
    assert ended_at(None) == 31  # without the image size: max_age


def test_long_gap_at_the_border_keeps_the_id():
    """A person at the right edge, missed for 25 frames, seen again further down: the same id.

    They walk down along the right edge, half out of the image, and come back with the same pose
    (the pose is compared by shape, so the
    drift of the constant-velocity prediction over the gap does not count against it).
    """
    frames = []
    for k in range(60):
        b, kp, sc, _ = person(W - 35, 150 + 1.5 * k, 60, 180)
        frames.append([] if 15 <= k < 40 else [(b, kp, sc, 'A')])
    assert ids_of(frames) == {'A': {1}}


def test_pose_shape_oks():
    box = np.array([[100.0, 100.0, 160.0, 280.0]])
    xyah = np.array([[130.0, 190.0, 60 / 180, 180.0]])
    kp = box[:, None, :2] + FRONT[None] * 180 * np.array([60 / 180, 1.0])
    vis = np.ones((1, 17), bool)
    far_and_big = kp * 1.5 + 300  # same shape elsewhere, 1.5x taller
    assert pose_shape_oks(kp, vis, xyah, far_and_big, vis, np.array([270.0]))[0] == pytest.approx(
        1.0
    )
    other = box[:, None, :2] + ARMS_UP[None] * 180 * np.array([60 / 180, 1.0])
    assert pose_shape_oks(kp, vis, xyah, other, vis, np.array([180.0]))[0] < 0.3
    few = np.zeros((1, 17), bool)
    few[0, :2] = True
    assert np.isnan(pose_shape_oks(kp, few, xyah, kp, vis, np.array([180.0]))[0])


def test_border_settings_validated():
    with pytest.raises(ValueError):
        TrackerConfig(border_size_ratio=0.5)
    with pytest.raises(ValueError):
        Tracker().update(TrackerInput(np.zeros((0, 4)), np.zeros(0), image_size=(0, 480)))


# ---------------------------------------------------------------- real frames
def test_real_video_person_leaves_and_larger_person_enters():
    """people.small.mp4 from frame 205, region x >= 448, y >= 120, real detector, pose and tracker.

    The region's right edge is the real image edge; the pose is BlazePose's (PosePipeline on CPU,
    at most 6 persons for speed). The person walking out of the right edge
    keeps one id until the detector loses it; 12 frames after that, another real person of the same
    video, 1.4x larger (about twice the box area), is pasted entering at that edge: it gets a new
    id, from its first frame on, for the rest of the clip.
    """
    import cv2

    from conftest import need_shared
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from poseflow_ros.types import Frame

    cap = cv2.VideoCapture(str(need_shared('data/videos/people.small.mp4')))
    imgs = {}
    for i in range(252):
        ok, img = cap.read()
        assert ok
        if i == 1 or i >= 205:
            imgs[i] = img
    cap.release()
    crop = cv2.resize(
        imgs[1][232:300, 472:511], None, fx=1.4, fy=1.4, interpolation=cv2.INTER_LINEAR
    )
    ch, cw = crop.shape[:2]
    # detector at 448 (its small-people setting): at 320 the pasted person, half in view, is found
    # ~7 frames later
    pipe = PosePipeline.from_config(
        PipelineConfig(device='cpu', max_persons=6, detector_input_size=448)
    )
    edge_id = last_seen = start = None
    edge_seen, newcomer = [], {}
    for i in range(205, 252):
        img = np.ascontiguousarray(imgs[i][120:, 448:])  # 192 x 240
        wc = img.shape[1]
        pasted = None
        if start is not None and i >= start:  # walks in, 1 px per frame
            x = int(wc - 0.5 * cw) - (i - start)
            y0 = 125 - ch // 2
            w = min(cw, wc - x)
            img[y0 : y0 + ch, x : x + w] = crop[:, :w]
            pasted = (x, y0, x + w, y0 + ch)
        res = pipe.process(Frame(img, stamp=i / 25.0, index=i))
        matched = [o for o in res.tracks if o.detection_index >= 0]
        if edge_id is None:
            at_edge = [o.track_id for o in matched if o.box[2] > wc - 15]
            edge_id = at_edge[0] if at_edge else None
        elif start is None:
            mine = [o for o in matched if o.track_id == edge_id]
            if mine:
                last_seen = i
                edge_seen.append(i)
            elif last_seen is not None:
                start = last_seen + 13  # enters 12 frames after the last sighting
        if pasted is not None:
            for o in matched:
                if o.box[0] > pasted[0] - 10 and abs(o.box[3] - pasted[3]) < 20:
                    newcomer.setdefault(o.track_id, []).append(i)
    assert edge_id is not None and start is not None and len(edge_seen) >= 5, (
        edge_id,
        start,
        edge_seen,
    )
    assert len(newcomer) == 1 and edge_id not in newcomer, (edge_id, newcomer)
    seen = next(iter(newcomer.values()))
    assert min(seen) <= start + 4 and len(seen) >= 251 - min(seen) - 2, (start, seen)
