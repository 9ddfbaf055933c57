"""RViz markers per track (poseflow_ros.ros.markers) without 3D: skeletons on the image plane.

The 3D path (person sphere, velocity arrow, plane through a real K) is tested with the node in
test_depth_node.py.
"""

import numpy as np
import pytest
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from poseflow_ros.coco import SKELETON
from poseflow_ros.render import track_color
from poseflow_ros.ros.markers import NAMESPACES, MarkerBuilder
from poseflow_ros.types import TrackOutput, TrackState

W, H = 640, 480


def hdr(sec=1):
    h = Header(frame_id='cam')
    h.stamp.sec = sec
    return h


def track(tid, state=TrackState.CONFIRMED, score=0.9, with_pose=True):
    kp = np.stack([np.linspace(300, 340, 17), np.linspace(100, 400, 17)], 1).astype(np.float32)
    sc = np.full(17, score, np.float32) if with_pose else None
    return TrackOutput(
        tid,
        state,
        3,
        3,
        0,
        np.array([290, 90, 350, 410], np.float32),
        0.9,
        kp if with_pose else None,
        sc,
    )


def by_key(ma):
    return {(m.ns, m.id): m for m in ma.markers}


def test_skeleton_on_the_plane_with_the_image_width_as_focal_length():
    mb = MarkerBuilder(depth=2.0, focal_px=0.0, kp_threshold=0.3, lifetime=0.5)
    t = track(7)
    ma = mb.build([t], hdr(), W, H)
    m = by_key(ma)
    assert set(m) == {('skeleton', 7), ('joints', 7), ('label', 7)}
    joints = m[('joints', 7)]
    assert joints.action == Marker.ADD and joints.header.frame_id == 'cam'
    assert len(joints.points) == 17
    want = [((x - W / 2) / W * 2.0, (y - H / 2) / W * 2.0, 2.0) for x, y in t.keypoints]
    got = [(p.x, p.y, p.z) for p in joints.points]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert len(m[('skeleton', 7)].points) == 2 * len(SKELETON)  # every edge: two points
    assert m[('label', 7)].text == '#7'
    r, g, b = track_color(7)
    c = joints.color
    assert (c.r, c.g, c.b, c.a) == pytest.approx((r, g, b, 1.0))
    assert (joints.lifetime.sec, joints.lifetime.nanosec) == (0, 500_000_000)


def test_focal_length_setting_and_depth():
    mb = MarkerBuilder(depth=4.0, focal_px=400.0, kp_threshold=0.3, lifetime=0.0)
    t = track(1)
    p = by_key(mb.build([t], hdr(), W, H))[('joints', 1)].points[0]
    x, y = t.keypoints[0]
    assert (p.x, p.y, p.z) == pytest.approx(((x - 320) / 400 * 4, (y - 240) / 400 * 4, 4.0))


def test_faint_keypoints_are_left_out_and_an_empty_skeleton_is_not_sent():
    mb = MarkerBuilder(2.0, 0.0, kp_threshold=0.5, lifetime=0.5)
    t = track(2, score=0.9)
    t.keypoint_scores[:5] = 0.4  # the face: below the threshold
    m = by_key(mb.build([t], hdr(), W, H))
    assert len(m[('joints', 2)].points) == 12
    faint = track(3, score=0.2)
    m = by_key(mb.build([faint, track(4, with_pose=False)], hdr(), W, H))
    assert set(m) >= {('label', 3), ('label', 4)}
    assert ('joints', 3) not in m and ('skeleton', 3) not in m  # no point above the threshold
    assert ('joints', 4) not in m and ('skeleton', 4) not in m  # no pose
    assert m[('joints', 2)].action == Marker.DELETE  # track 2 is gone: its markers are deleted


def test_lost_tracks_are_faint_and_vanished_tracks_deleted():
    mb = MarkerBuilder(2.0, 0.0, 0.3, 0.5)
    mb.build([track(1), track(2)], hdr(1), W, H)
    ma = mb.build([track(1, TrackState.LOST)], hdr(2), W, H)
    m = by_key(ma)
    assert m[('joints', 1)].color.a == pytest.approx(0.35)
    deleted = {(mk.ns, mk.id) for mk in ma.markers if mk.action == Marker.DELETE}
    assert deleted == {('skeleton', 2), ('joints', 2), ('label', 2)}
    again = mb.build([track(1)], hdr(3), W, H)
    assert not [mk for mk in again.markers if mk.action == Marker.DELETE]  # deleted only once


def test_delete_all_clears_every_namespace_and_what_was_shown():
    mb = MarkerBuilder(2.0, 0.0, 0.3, 0.5)
    mb.build([track(1)], hdr(1), W, H)
    ma = mb.delete_all(hdr(2))
    assert [(m.ns, m.action) for m in ma.markers] == [(ns, Marker.DELETEALL) for ns in NAMESPACES]
    assert all(m.header.stamp.sec == 2 for m in ma.markers)
    after = mb.build([], hdr(3), W, H)
    assert after.markers == []  # nothing left to delete one by one


def test_marker_ids_stay_in_the_int32_range():
    big = 2**31 + 5  # track ids are uint64 in the message; Marker.id is int32
    m = by_key(MarkerBuilder(2.0, 0.0, 0.3, 0.5).build([track(big)], hdr(), W, H))
    assert ('label', big % 2147483647) in m and m[('label', big % 2147483647)].text == f'#{big}'
