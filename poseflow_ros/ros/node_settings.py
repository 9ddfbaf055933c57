"""The nodes' own settings, declared once.

pose_tracker: input, QoS, outputs, markers; and video_source.

The core settings (models, thresholds, tracker, posture) live in
:class:`~poseflow_ros.pipeline.PipelineConfig`, :class:`~poseflow_ros.track.TrackerConfig` and
:class:`~poseflow_ros.analytics.PostureConfig`; the node declares a parameter for every field of
all four (see :func:`poseflow_ros.ros.params.declare_settings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..coco import KEYPOINT_SCORE_VISIBLE
from ..settings import setting

QOS_RELIABILITIES = ('auto', 'reliable', 'best_effort')


@dataclass
class NodeSettings:
    autostart: bool = setting(
        True,
        'Configure and activate at start-up (one step, like a plain node); false = start '
        'unconfigured and wait for `ros2 lifecycle set <node> configure` / `activate` (e.g. '
        'from a lifecycle manager).',
    )
    image_transport: str = setting(
        'raw',
        'Input kind: raw (sensor_msgs/Image on image) or compressed '
        '(sensor_msgs/CompressedImage on image/compressed).',
        choices=('raw', 'compressed'),
    )
    qos_reliability: str = setting(
        'auto',
        "Reliability of the image subscription: 'auto' matches what the image publishers offer "
        '(reliable when every publisher is reliable, else best effort; re-checked when publishers '
        "come and go), 'reliable' or 'best_effort' force one (a reliable subscription never "
        'matches a best-effort publisher).',
        choices=QOS_RELIABILITIES,
    )
    qos_depth: int = setting(
        5,
        'History depth of the image subscription: frames DDS may hold until the node takes them '
        '(a depth of 1 lets DDS overwrite a frame the node has not taken yet: 8 of 50 reliable '
        '1280x720 frames were lost so). The node itself keeps only the latest frame and counts '
        'the rest as dropped.',
        range=(1, 100),
    )
    use_depth: bool = setting(
        False,
        'Subscribe to depth/image (sensor_msgs/Image, 16UC1 millimetres or 32FC1 metres, '
        'registered to the colour image) and pair it with the colour frames by stamp: 3D '
        'keypoints, position and velocity from depth. false: no depth subscription, colour '
        'frames are processed as they come (2D, or monocular 3D with camera_info).',
    )
    depth_transport: str = setting(
        'raw',
        'Depth input kind (with use_depth): raw (sensor_msgs/Image on depth/image) or '
        'compressedDepth (sensor_msgs/CompressedImage from compressed_depth_image_transport on '
        'depth/image/compressedDepth, PNG).',
        choices=('raw', 'compressedDepth'),
    )
    use_camera_info: bool = setting(
        True,
        'Subscribe to camera_info (sensor_msgs/CameraInfo of the colour image): its K and D '
        'back-project depth, place the monocular 3D skeleton and the markers. The CameraInfo '
        'stamped closest to the image within sync_slop is used, else the latest valid one.',
    )
    sync_slop: float = setting(
        0.02,
        'Seconds by which the stamps of a colour and a depth image may differ and still be paired '
        '(message_filters ApproximateTimeSynchronizer). Keep it below half a frame period, or a '
        "colour frame may get the neighbouring frame's depth.",
        range=(0.001, 10.0),
        live=True,
    )
    depth_wait: float = setting(
        0.1,
        'With use_depth: seconds a colour frame waits for its depth image; then it is processed '
        'without depth (a rate-limited warning says why), so a missing depth never stops the '
        'output.',
        range=(0.0, 10.0),
        live=True,
    )
    expected_width: int = setting(
        0, 'Reject frames whose width differs (0 = accept any size).', range=(0, 16384), live=True
    )
    expected_height: int = setting(
        0, 'Reject frames whose height differs (0 = accept any size).', range=(0, 16384), live=True
    )
    error_log_period: float = setting(
        2.0,
        'Minimum seconds between two repeated bad-input log messages.',
        range=(0.0, 3600.0),
        live=True,
    )
    overlap: bool = setting(
        False,
        'Always run decoding and person detection of the next frame while pose, 3D, tracking and '
        'publishing of the current one run (two threads, results in frame order). It adds up to '
        'one frame of latency. Off, overlap_when_behind decides per frame (the default).',
    )
    overlap_when_behind: bool = setting(
        True,
        'With overlap false: overlap the two stages while the node falls behind its camera (the '
        'next frame was already waiting for the worker in 80 % of the last 25 frames), one after '
        'another again once it keeps up (in at most 30 %), at least 100 frames between two '
        'switches. On 2 CPU cores shared with the camera and a subscriber (make demo) it '
        'processed 97.3 and 97.4 % of a 25 FPS camera\'s frames against 95.2 and 95.0 % without, '
        'for a p99 latency of 130-147 against 95-96 ms (see the README, Real time on a CPU). '
        'False: never overlap (unless overlap).',
    )
    stats_file: str = setting(
        '',
        "Write frame counts, track ids and per-stage ms as JSON here at shutdown ('' = no).",
        live=True,
    )
    publish_markers: bool = setting(True, 'Publish RViz skeleton markers on markers.', live=True)
    publish_debug_image: bool = setting(
        False, 'Publish the annotated image on debug_image (costs a few ms per frame).', live=True
    )
    keypoint_score_threshold: float = setting(
        KEYPOINT_SCORE_VISIBLE,
        'Keypoints scoring below this are not drawn (markers, debug image). Lower than '
        'posture.keypoint_threshold on purpose: a faint joint is still worth showing.',
        range=(0.0, 1.0),
        live=True,
    )
    marker_depth: float = setting(
        2.0,
        'Distance (m) of the plane on which skeletons without 3D are drawn in the image frame.',
        range=(0.01, 100.0),
        live=True,
    )
    marker_focal_px: float = setting(
        0.0,
        'Focal length (px) used to place markers without 3D when there is no valid camera_info '
        '(with one, its K is used); 0 = image width.',
        range=(0.0, 100000.0),
        live=True,
    )
    marker_velocity_s: float = setting(
        1.0,
        'With 3D: velocity arrows point to where the person would be after this many seconds '
        '(drawn from 0.25 m/s: slower is jitter of a standing person); 0 = no arrows.',
        range=(0.0, 60.0),
        live=True,
    )
    marker_lifetime: float = setting(
        0.5,
        'Seconds a marker stays in RViz unless refreshed by a newer frame (a few frame '
        'periods), so nothing stale survives a camera stop; 0 = forever.',
        range=(0.0, 3600.0),
        live=True,
    )

    @property
    def overlap_mode(self) -> str:
        """'on' (overlap), 'when_behind' (overlap_when_behind without overlap) or 'off'."""
        if self.overlap:
            return 'on'
        return 'when_behind' if self.overlap_when_behind else 'off'


@dataclass
class VideoSourceSettings:
    """video_source's parameters.

    A demo/test camera: a video file published as sensor_msgs/Image.
    """

    video_path: str = setting('', 'Video file to publish (required).')
    frame_id: str = setting('camera', 'frame_id written into every image header.')
    rate: float = setting(0.0, 'Publish rate in Hz; 0 = the file frame rate.', range=(0.0, 1000.0))
    loop: bool = setting(False, 'Start again at the end of the file.')
    encoding: str = setting(
        'bgr8',
        'Encoding of the published raw images.',
        choices=('bgr8', 'rgb8', 'mono8', 'bgra8', 'rgba8'),
    )
    publish_compressed: bool = setting(
        False, 'Also publish JPEG sensor_msgs/CompressedImage on image/compressed.'
    )
    max_frames: int = setting(0, 'Stop after this many frames (0 = no limit).', range=(0, 10**9))
    wait_for_subscribers: float = setting(
        0.0,
        'Seconds to wait for a subscriber on image before starting (0 = do not wait).',
        range=(0.0, 3600.0),
    )
    settle_time: float = setting(
        1.0,
        'Seconds to wait after the first subscriber matched before publishing (with '
        'wait_for_subscribers), so auto-QoS subscribers can settle.',
        range=(0.0, 60.0),
    )
    exit_when_done: bool = setting(True, 'Shut down when the file ends (when not looping).')
    qos_reliability: str = setting(
        'reliable',
        'Reliability of the image publisher (reliable also serves best-effort subscribers).',
        choices=('best_effort', 'reliable'),
    )
