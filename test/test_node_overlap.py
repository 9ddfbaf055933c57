"""pose_tracker with overlap and a detection interval, over DDS.

Overlap: detection of frame t+1 beside the rest of frame t. Every frame is answered once, in
order, with its own header; a stream of frames faster than the node keeps latest-frame-wins;
deactivate stops both threads.
"""

import time

import pytest

pytest.importorskip('rclpy')
from rclpy.parameter import Parameter  # noqa: E402

from poseflow_ros.ros.conversions import bgr_to_image  # noqa: E402
from ros_harness import Harness, header  # noqa: E402


def test_overlap_and_interval_answer_every_frame_in_order(ros, pipeline, frames):
    h = Harness(
        pipeline,
        [
            Parameter('overlap', value=True),
            Parameter('detection_interval', value=2),
            Parameter('tracker.n_init', value=1),
        ],
    )
    try:
        assert h.node._stage2 is not None
        outs = [h.send(bgr_to_image(f, header(i))) for i, f in enumerate(frames[:12])]
        assert [o.header.stamp for o in outs] == [header(i).stamp for i in range(12)]
        assert all(len(o.poses) >= 1 for o in outs[1:])
        # a burst faster than the node: bounded (latest wins), the outputs still in stamp order
        n0 = len(h.poses)
        for i, f in enumerate(frames[12:32]):
            h.send(bgr_to_image(f, header(100 + i)), wait_result=False)
        c = h.node.stats.counters
        # (in this test process without the node's large-image DDS profile some burst frames are
        # lost in transport; what arrives is either processed or dropped, never queued)
        h.wait(
            lambda: c['received'] > 12 and c['processed'] + c['dropped'] == c['received'],
            30.0,
            f'burst not consumed: {dict(c)}',
        )
        time.sleep(1.0)
        assert c['processed'] + c['dropped'] == c['received'], dict(c)
        # after the burst the node still answers a frame, and everything came out in stamp order
        last = h.send(bgr_to_image(frames[32], header(200)))
        assert last.header.stamp == header(200).stamp
        stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in h.poses[n0:]]
        assert stamps == sorted(stamps) and len(stamps) >= 2
        assert h.node.stats.counters['errors'] == 0
        stage = h.node._stage2
        h.node.trigger_deactivate()
        h.wait(lambda: h.node._stage2 is None, 10.0, 'second stage not stopped')
        assert not stage._thread.is_alive()
    finally:
        h.close()


def test_overlap_when_behind_turns_on_in_a_burst_and_off_after(ros, pipeline, frames, monkeypatch):
    """The default (overlap false, overlap_when_behind true), with a short governor window.

    One frame at a time (each answered before the next): never overlapped. A burst faster than
    the node: it falls behind and overlaps. One at a time again: back to one stage after another.
    Every answer in stamp order throughout.
    """
    from poseflow_ros.overlap import OverlapGovernor
    from poseflow_ros.ros import pose_tracker_node as ptn

    monkeypatch.setattr(ptn, 'OverlapGovernor', lambda: OverlapGovernor(window=5, min_dwell=10))
    h = Harness(pipeline, [Parameter('tracker.n_init', value=1)])
    try:
        node = h.node
        assert node.settings.overlap is False and node.settings.overlap_when_behind
        assert node._governor is not None and node._stage2 is not None
        for i in range(12):
            h.send(bgr_to_image(frames[i % len(frames)], header(i)))
        assert node._governor.switches == 0 and node._overlap_frames == 0
        c = node.stats.counters
        for i in range(80):
            h.send(bgr_to_image(frames[i % len(frames)], header(100 + i)), wait_result=False)
            time.sleep(0.005)
        # the burst is over when nothing more arrives for 1 s and all that came is consumed
        # (frames still in transit would otherwise reach the node during the next phase)
        assert h.wait_quiet(
            lambda: c['processed'] + c['dropped'] == c['received'] and not node._stage2.busy()
        ), f'burst not consumed: {dict(c)}'
        assert node._governor.switches == 1 and node._governor.on, node._governor.switches
        assert node._overlap_frames > 0
        for i in range(25):
            h.send(bgr_to_image(frames[i % len(frames)], header(300 + i)))
        assert node._governor.switches == 2 and not node._governor.on
        report = node.stats_report()
        assert report['overlap'] == 'when_behind' and report['overlap_switches'] == 2
        assert report['overlap_frames'] == node._overlap_frames > 0
        stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in h.poses]
        assert stamps == sorted(stamps)
        assert c['errors'] == 0
    finally:
        h.close()
