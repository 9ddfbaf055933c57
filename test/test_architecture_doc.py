"""docs/architecture.md cannot go stale.

Its parameter tables are what params_doc generates from the settings, and its topic tables list
exactly the topics (and types) the running nodes have.
"""

import re
import time
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
from rclpy.parameter import Parameter  # noqa: E402

from poseflow_ros.ros import params_doc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / 'docs' / 'architecture.md'
ROS_INTERNAL = re.compile(r'^/(rosout|parameter_events)$|/(transition_event|_action/)')


def doc_topics(node: str):
    """{(direction, absolute topic, type)} of the node's topic table in the doc."""
    text = DOC.read_text()
    part = text[text.index(f'### {node} ') :]
    part = part[: part.index('<!-- params:')]
    rows = re.findall(r'^\| (sub|pub) \| `([^`]+)` \| `([^`]+)` \|', part, re.M)
    assert rows, node
    return {(d, t if t.startswith('/') else '/' + t, ty) for d, t, ty in rows}


def node_topics(node):
    name, ns = node.get_name(), node.get_namespace()
    out = set()
    for d, fn in (
        ('pub', node.get_publisher_names_and_types_by_node),
        ('sub', node.get_subscriber_names_and_types_by_node),
    ):
        for topic, types in fn(name, ns):
            if not ROS_INTERNAL.search(topic):
                out |= {(d, topic, ty) for ty in types}
    return out


def test_parameter_tables_are_generated():
    text = DOC.read_text()
    for begin, end, table in params_doc.architecture_sections():
        assert params_doc.section_of(text, begin, end) == table, (
            f'{DOC} parameter table stale: python -m poseflow_ros.ros.params_doc --write'
        )


def test_pose_tracker_topics_are_the_documented_ones(ros, pipeline):
    from poseflow_ros.ros.pose_tracker_node import PoseTrackerNode

    seen = set()
    # every optional topic on in one of the two configurations
    for overrides in (
        [Parameter('use_depth', value=True), Parameter('publish_debug_image', value=True)],
        [
            Parameter('image_transport', value='compressed'),
            Parameter('use_depth', value=True),
            Parameter('depth_transport', value='compressedDepth'),
        ],
    ):
        node = PoseTrackerNode(pipeline=pipeline, parameter_overrides=overrides)
        try:
            assert node.autostart(), node.configure_error
            time.sleep(0.2)
            seen |= node_topics(node)
        finally:
            node.destroy_node()
    assert seen == doc_topics('pose_tracker')


def test_video_source_topics_are_the_documented_ones(ros, walk_video):
    from poseflow_ros.ros.video_source_node import VideoSourceNode

    node = VideoSourceNode(
        parameter_overrides=[
            Parameter('video_path', value=str(walk_video)),
            Parameter('publish_compressed', value=True),
            Parameter('wait_for_subscribers', value=30.0),
        ]
    )
    try:
        assert node_topics(node) == doc_topics('video_source')
    finally:
        node.done.set()
        node.destroy_node()
