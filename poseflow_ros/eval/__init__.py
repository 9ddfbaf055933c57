"""Tracking evaluation harness (plain Python, no ROS).

MOT files, seeded noisy detections from ground truth, CLEAR-MOT / identity metrics (motmetrics) and
HOTA (own implementation, checked against TrackEval), and a runner that times any tracker over a
sequence.

    from poseflow_ros.eval import mot_io, noise, metrics, runner
"""
