"""The core end to end (PosePipeline on real video frames, CPU).

What a frame's result holds, detections given from outside, and detection_interval (boxes from the
previous poses between detector runs).
"""

import numpy as np
import pytest

from poseflow_ros.types import Detections, Frame
from poseflow_ros.video import VideoReader


@pytest.fixture(scope='module')
def clip(walk_video):
    """40 consecutive frames from 4 s into walk.small.mp4 (three people walking)."""
    r = VideoReader(walk_video)
    out = [f for i, f in enumerate(r) if 100 <= i < 140]
    r.close()
    return out


class CountingDetector:
    def __init__(self, det):
        self.det, self.calls = det, 0

    def __getattr__(self, name):
        return getattr(self.det, name)

    def detect(self, image):
        self.calls += 1
        return self.det.detect(image)


def run(pipe, clip, interval=1, ahead=False):
    pipe.reset()
    pipe.detection_interval = interval
    counting = CountingDetector(pipe.detector)
    pipe.detector = counting
    try:
        out = []
        for i, img in enumerate(clip):
            f = Frame(img, 4.0 + i / 25.0, 'cam', i)
            out.append(
                pipe.process(f, detections=pipe.detect_ahead(img)) if ahead else pipe.process(f)
            )
        return out, counting.calls
    finally:
        pipe.detector = counting.det
        pipe.detection_interval = 1


def test_frame_result(pipeline, clip):
    res, calls = run(pipeline, clip[:6])
    assert calls == 6
    r = res[-1]
    n = len(r.tracks)
    assert n >= 2 and len(r.detections) >= n - 1
    assert r.joint_angles.shape == (n, 8) and r.postures.shape == (n,) and r.symmetry.shape == (n,)
    assert r.tracks_3d is None  # neither depth nor a camera: 2D only
    assert {'detect', 'crop', 'pose', 'track'} <= set(r.timings_ms) and 'depth' not in r.timings_ms
    t = next(t for t in r.tracks if t.detection_index >= 0)
    assert t.keypoints.shape == (17, 2) and t.keypoints_raw.shape == (17, 2)
    assert r.poses.keypoints_3d.shape == (len(r.detections), 17, 3)  # BlazePose world landmarks


def test_detections_from_outside_skip_the_detector(pipeline, clip):
    pipeline.reset()
    counting = CountingDetector(pipeline.detector)
    dets = pipeline.detect(clip[0])
    pipeline.detector = counting
    try:
        r = pipeline.process(Frame(clip[0], 0.0, 'cam', 0), detections=dets, detect_ms=7.5)
        r2 = pipeline.process(Frame(clip[1], 0.04, 'cam', 1), detections=Detections.empty())
    finally:
        pipeline.detector = counting.det
    assert counting.calls == 0 and r.timings_ms['detect'] == 7.5
    assert len(r.poses) == len(dets) > 0 and len(r2.poses) == 0


@pytest.mark.parametrize('ahead', [False, True])
def test_detection_interval_runs_the_detector_less_and_tracks_the_same_people(
    pipeline, clip, ahead
):
    ref, ref_calls = run(pipeline, clip)
    got, calls = run(pipeline, clip, interval=3, ahead=ahead)
    assert ref_calls == len(clip)
    assert calls <= 0.6 * len(clip), calls  # 1 in 3 scheduled, some more after a person was lost
    skipped = [r for r in got if 'detect_skipped' in r.timings_ms]
    assert len(skipped) >= 0.4 * len(clip)
    assert all(r.timings_ms['detect'] < 1.0 for r in skipped)  # no detector time on those frames

    # the same people with the same number of ids, keypoints close to every-frame detection
    def ids(rs):
        return {
            t.track_id - min(t.track_id for r in rs for t in r.tracks)
            for r in rs
            for t in r.tracks
        }

    assert len(ids(got)) == len(ids(ref))
    close = total = 0
    for a, b in zip(ref[5:], got[5:]):
        for ta in a.tracks:
            if ta.detection_index < 0:
                continue
            tb = min(b.tracks, key=lambda t: np.abs(t.box - ta.box).sum())
            both = (ta.keypoint_scores >= 0.5) & (tb.keypoint_scores >= 0.5)
            h = ta.box[3] - ta.box[1]
            close += int(
                (np.linalg.norm(ta.keypoints[both] - tb.keypoints[both], axis=1) <= 0.05 * h).sum()
            )
            total += int(both.sum())
    assert total > 500 and close / total >= 0.9, (close, total)


def test_detect_ahead_schedule(pipeline, clip):
    pipeline.reset()
    pipeline.detection_interval = 4
    try:
        got = [pipeline.detect_ahead(clip[0]) is not None for _ in range(9)]
    finally:
        pipeline.detection_interval = 1
        pipeline.reset()
    assert got == [True, False, False, False, True, False, False, False, True]
