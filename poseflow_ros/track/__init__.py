"""Tracking stage: DeepSORT/ByteTrack-style multi-person tracker with optional appearance and pose cues.

    from poseflow_ros.track import Tracker, TrackerConfig
    tr = Tracker(TrackerConfig(output_lost=True))
    outs = tr.update(TrackerInput(boxes, scores, keypoints, keypoint_scores, features))
    tr.ended_ids   # ids deleted during that update

Appearance embedders (optional, produce ``features``): :func:`poseflow_ros.track.embed.make_embedder`.
"""
from .config import TrackerConfig
from .tracker import Tracker

__all__ = ['Tracker', 'TrackerConfig']
