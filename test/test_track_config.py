"""Tracker settings (poseflow_ros.track.config): dict round trip, ROS-typed values, validation."""

import pytest

from poseflow_ros.track import TrackerConfig


def test_config_dict_roundtrip_and_validation():
    cfg = TrackerConfig(n_init=5, output_lost=True)
    d = cfg.to_dict()
    assert all(type(v) in (bool, int, float, str) for v in d.values())  # ROS parameter types
    assert TrackerConfig.from_dict(d) == cfg
    assert TrackerConfig.from_dict({'max_age': 7.0}).max_age == 7
    with pytest.raises(ValueError, match='unknown'):
        TrackerConfig.from_dict({'nope': 1})
    with pytest.raises(ValueError):
        TrackerConfig(low_score_threshold=0.8, high_score_threshold=0.5)
