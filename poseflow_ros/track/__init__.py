"""Tracking stage: DeepSORT/ByteTrack-style multi-person tracker.

Appearance and pose cues are optional.

    from poseflow_ros.track import Tracker, TrackerConfig
    tr = Tracker(TrackerConfig(output_lost=True))
    outs = tr.update(TrackerInput(boxes, scores, keypoints, keypoint_scores, features,
                                  image_size=(width, height), stamp=t))
    outs[0].keypoints, outs[0].keypoints_raw   # One Euro-smoothed / as measured
    tr.ended_ids   # ids deleted during that update

Appearance embedders (optional, produce ``features``):
:func:`poseflow_ros.track.embed.make_embedder`.
"""

from .config import TrackerConfig
from .tracker import Tracker

__all__ = ['Tracker', 'TrackerConfig']
