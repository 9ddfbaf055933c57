"""pose_tracker with depth and CameraInfo over real DDS, on the real RGB-D frame five_people.

five_people is a Kinect frame of five people at 1.8-2.8 m. A camera in another process publishes
colour + registered depth + CameraInfo (stamped 1.1 s before the image, as the HSR bags are) and
the node publishes 3D keypoints from depth with the colour image's headers; bad depth/CameraInfo
input gives one clear, rate-limited warning per kind and the 2D output goes on. Also: the
conversions (depth encodings, CameraInfo, result -> message) and the 3D markers.

This file is also the camera process: ``python test/test_depth_node.py COUNT``.
"""

import json
import math
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from poseflow_ros.decode import ImageError  # noqa: E402
from poseflow_ros.msg import TrackedPose  # noqa: E402
from poseflow_ros.paths import shared_dir  # noqa: E402
from poseflow_ros.ros.conversions import (  # noqa: E402
    bgr_to_image,
    camera_info_problem,
    camera_info_to_model,
    depth_image_to_metres,
    result_to_msg,
)
from poseflow_ros.ros.params import make_qos  # noqa: E402

HERE = Path(__file__).resolve().parent
RGBD = shared_dir() / 'data' / 'rgbd' / 'five_people'
K525 = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]  # RGBD/intrinsics.yaml
INFO_OFFSET_S = 1.1  # the HSR bags stamp CameraInfo this long before the image
DEPTH, MONO = TrackedPose.SOURCE_3D_DEPTH, TrackedPose.SOURCE_3D_MONOCULAR


# ------------------------------------------------------------------ messages
def load_rgbd():
    rgb = cv2.imread(str(RGBD / 'five_people_rgb.png'), cv2.IMREAD_COLOR)
    depth_mm = cv2.imread(str(RGBD / 'five_people_depth_mm.png'), cv2.IMREAD_UNCHANGED)
    assert rgb is not None and depth_mm is not None and depth_mm.dtype == np.uint16
    return rgb, depth_mm


def hdr(sec, nanosec=0, frame_id='rgb_optical'):
    return Header(stamp=Time(sec=int(sec), nanosec=int(nanosec)), frame_id=frame_id)


def depth_msg(depth, header, encoding=None):
    """uint16 (16UC1, mm) or float32 (32FC1, m) array -> sensor_msgs/Image."""
    enc = encoding or ('16UC1' if depth.dtype == np.uint16 else '32FC1')
    d = np.ascontiguousarray(depth)
    return Image(
        header=header,
        height=d.shape[0],
        width=d.shape[1],
        encoding=enc,
        is_bigendian=0,
        step=d.strides[0],
        data=d.tobytes(),
    )


def compressed_depth_msg(depth_mm, header):
    """uint16 mm -> CompressedImage as compressed_depth_image_transport sends it (header + PNG)."""
    ok, png = cv2.imencode('.png', depth_mm)
    assert ok
    return CompressedImage(
        header=header,
        format='16UC1; compressedDepth png',
        data=struct.pack('<iff', 0, 0.0, 0.0) + png.tobytes(),
    )


def info_msg(header, k=K525, width=640, height=480):
    return CameraInfo(
        header=header,
        width=width,
        height=height,
        distortion_model='plumb_bob',
        d=[0.0] * 5,
        k=list(k),
        p=[k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0],
    )


def info_header(image_header):
    st = image_header.stamp.sec + image_header.stamp.nanosec * 1e-9 - INFO_OFFSET_S
    return hdr(math.floor(st), round((st - math.floor(st)) * 1e9), image_header.frame_id)


# ------------------------------------------------------------------ the camera process
def camera_main(count: int) -> int:
    """Publish ``count`` colour + depth + CameraInfo triples of five_people, reliable.

    Like a camera driver; each triple goes out after the node answered the previous one. Print the
    TrackedPoseArrays received as JSON.
    """
    from rclpy.node import Node
    from rclpy.qos import ReliabilityPolicy

    from poseflow_ros.msg import TrackedPoseArray

    rgb, depth_mm = load_rgbd()
    rclpy.init()
    node = Node('test_rgbd_camera')
    qos = make_qos('reliable', 5)
    pubs = [
        node.create_publisher(CameraInfo, 'camera_info', qos),
        node.create_publisher(Image, 'depth/image', qos),
        node.create_publisher(Image, 'image', qos),
    ]
    got = []
    node.create_subscription(TrackedPoseArray, 'tracked_poses', got.append, 10)

    def matched_reliably():
        # the node's auto QoS first subscribes best effort, then re-subscribes reliably: wait for
        # that
        for p in pubs:
            subs = node.get_subscriptions_info_by_topic(p.topic_name)
            if (
                p.get_subscription_count() == 0
                or not subs
                or any(i.qos_profile.reliability != ReliabilityPolicy.RELIABLE for i in subs)
            ):
                return False
        return True

    t_end = time.monotonic() + 30
    while not matched_reliably() and time.monotonic() < t_end:
        rclpy.spin_once(node, timeout_sec=0.05)
    print('READY', flush=True)
    for _ in range(5):  # a camera driver publishes CameraInfo all along; frames start a bit later
        pubs[0].publish(info_msg(info_header(hdr(3000, 17))))
        t_next = time.monotonic() + 0.1
        while time.monotonic() < t_next:
            rclpy.spin_once(node, timeout_sec=0.02)
    for i in range(count):
        h = hdr(3000 + i // 5, (i % 5) * 200_000_000 + 17)  # 5 Hz stamps
        pubs[0].publish(info_msg(info_header(h)))
        pubs[1].publish(depth_msg(depth_mm, h))
        pubs[2].publish(bgr_to_image(rgb, h, 'rgb8'))
        n = len(got)
        t_end = time.monotonic() + 30
        while len(got) == n and time.monotonic() < t_end:
            rclpy.spin_once(node, timeout_sec=0.05)
    out = [
        {
            'sec': m.header.stamp.sec,
            'nanosec': m.header.stamp.nanosec,
            'frame_id': m.header.frame_id,
            'poses': [
                {
                    'source': p.source_3d,
                    'n3d': len(p.keypoints_3d),
                    'valid3d': int(sum(s > 0 for s in p.keypoints_3d_score)),
                    'position': [p.position.x, p.position.y, p.position.z],
                    'velocity': [p.velocity.x, p.velocity.y, p.velocity.z],
                }
                for p in m.poses
            ],
        }
        for m in got
    ]
    print(json.dumps(out), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if len(got) == count else 1


if __name__ == '__main__':
    sys.exit(camera_main(int(sys.argv[1])))


# ------------------------------------------------------------------ tests
from ros_harness import Harness  # noqa: E402


@pytest.fixture(scope='module')
def rgbd():
    if not RGBD.exists():
        pytest.skip(f'shared data missing: {RGBD} (set POSEFLOW_SHARED)')
    return load_rgbd()


def _central_depth(depth_mm, x1, y1, x2, y2):
    """Median valid depth (m) of the central part of a box.

    The test's reference for a person's distance.
    """
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    patch = depth_mm[
        int(cy - 0.2 * h) : int(cy + 0.1 * h), int(cx - 0.15 * w) : int(cx + 0.15 * w)
    ]
    v = patch[patch > 0]
    return float(np.median(v)) / 1000.0


def test_rgbd_camera_in_another_process_gives_3d_from_depth(ros, pipeline, rgbd):
    """Colour + depth + CameraInfo from a camera process, node at its default QoS (auto).

    Every output has the colour image's header; all five people get 3D from depth (17 keypoints_3d,
    most valid) with a position at the depth of their box; the camera process receives them; static
    people have ~0 velocity.
    """
    rgb, depth_mm = rgbd
    h = Harness(
        pipeline,
        [
            Parameter('use_depth', value=True),
            Parameter('tracker.n_init', value=1),
            Parameter('depth_wait', value=5.0),
        ],
        reliability=None,
    )
    n = 3
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == 'READY', proc.stderr.read()
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        remote = json.loads(out.strip().splitlines()[-1])
        h.wait(lambda: len(h.poses) >= n, 5.0, 'outputs seen in-process too')
        assert (
            h.node._sub_reliability
            == h.node._depth_reliability
            == h.node._info_reliability
            == 'reliable'
        )
        stamps = [(3000 + i // 5, (i % 5) * 200_000_000 + 17) for i in range(n)]
        assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in h.poses] == stamps
        assert all(m.header.frame_id == 'rgb_optical' for m in h.poses)
        assert [(r['sec'], r['nanosec'], r['frame_id']) for r in remote] == [
            s + ('rgb_optical',) for s in stamps
        ]
        c = h.node.stats.counters
        assert (
            c['frames_with_depth'] == n
            and c['frames_without_depth'] == 0
            and c['input_problems'] == 0
        )
        for r, msg in zip(remote, h.poses):
            assert len(r['poses']) == 5
            for p, mp in zip(r['poses'], msg.poses):
                assert p['source'] == DEPTH and p['n3d'] == 17 and p['valid3d'] >= 10, p
                ref = _central_depth(depth_mm, mp.x_min, mp.y_min, mp.x_max, mp.y_max)
                assert abs(p['position'][2] - ref) < 0.15, (p['position'], ref)
        print(
            'person z (m) vs median depth of the box centre:',
            ', '.join(
                f"{p['position'][2]:.3f}/"
                f"{_central_depth(depth_mm, mp.x_min, mp.y_min, mp.x_max, mp.y_max):.3f} "
                f"({p['valid3d']}/17 valid)"
                for p, mp in zip(remote[-1]['poses'], h.poses[-1].poses)
            ),
        )
        last = remote[-1]['poses']
        speeds = [math.hypot(*p['velocity']) for p in last]
        print('speeds of the (still) people, m/s:', ', '.join(f'{v:.3f}' for v in speeds))
        assert all(v < 0.05 for v in speeds), speeds
        # markers: skeletons at the 3D keypoints and a person sphere at each position
        h.wait(lambda: len(h.markers) >= n, 5.0, 'markers')
        ms = h.markers[-1].markers
        persons = [m for m in ms if m.ns == 'person' and m.action == Marker.ADD]
        assert len(persons) == 5
        zs = sorted(round(m.pose.position.z, 3) for m in persons)
        assert zs == sorted(round(p.position.z, 3) for p in h.poses[-1].poses)
        assert all(m.header.frame_id == 'rgb_optical' for m in ms)
    finally:
        proc.kill()
        h.close()


def test_without_depth_or_camera_info_the_output_is_2d_as_before(ros, pipeline, rgbd):
    """Default settings and no camera_info publisher.

    No depth subscription, no waiting, 2D output with the 3D fields empty/NaN, as before 3D
    existed.
    """
    rgb, _ = rgbd
    h = Harness(pipeline, [Parameter('tracker.n_init', value=1)])
    try:
        assert h.node.sub_depth is None and h.node._sync is None
        out = h.send(bgr_to_image(rgb, hdr(10, 5)))
        assert out.header.stamp.sec == 10 and len(out.poses) == 5
        for p in out.poses:
            assert p.source_3d == TrackedPose.SOURCE_3D_NONE and len(p.keypoints_3d) == 0
            assert math.isnan(p.position.z) and math.isnan(p.velocity.x)
            assert len(p.keypoints) == 17
        assert 'depth' not in h.node.stats.summary()
        assert h.node.stats.counters['input_problems'] == 0
    finally:
        h.close()


class RgbdHarness(Harness):
    """Harness + depth and camera_info publishers (reliable, the node's auto QoS follows)."""

    def __init__(self, pipeline, overrides, compressed_depth=False):
        super().__init__(pipeline, overrides)
        qos = make_qos('reliable', 10)
        self.pub_depth = (
            self.io.create_publisher(CompressedImage, 'depth/image/compressedDepth', qos)
            if compressed_depth
            else self.io.create_publisher(Image, 'depth/image', qos)
        )
        self.pub_info = self.io.create_publisher(CameraInfo, 'camera_info', qos)
        self.wait(
            lambda: (
                self.node._depth_reliability == self.node._info_reliability == 'reliable'
                and self.pub_depth.get_subscription_count() > 0
                and self.pub_info.get_subscription_count() > 0
            ),
            5.0,
            'depth and camera_info subscriptions matched reliably',
        )

    def info(self, msg):
        n = self.node.camera_info_received
        self.pub_info.publish(msg)
        self.wait(lambda: self.node.camera_info_received > n, 5.0, 'camera_info received')

    def frame(self, image_msg, depth=None):
        """Depth (if any) first, then the colour frame; -> the output for the colour frame."""
        if depth is not None:
            n = self.node.depth_received
            self.pub_depth.publish(depth)
            self.wait(lambda: self.node.depth_received > n, 5.0, 'depth received')
        out = self.send(image_msg)
        assert (out.header.stamp, out.header.frame_id) == (
            image_msg.header.stamp,
            image_msg.header.frame_id,
        )
        return out


def test_bad_depth_and_camera_info_warn_once_and_2d_goes_on(ros, pipeline, rgbd, capfd):
    rgb, depth_mm = rgbd
    h = RgbdHarness(
        pipeline,
        [
            Parameter('use_depth', value=True),
            Parameter('tracker.n_init', value=1),
            Parameter('error_log_period', value=30.0),
        ],
    )
    node = h.node
    c = node.stats.counters
    i = 0
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    diags = []
    h.io.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)

    def pair(depth=None, dt=0.0, encoding=None):
        """Send the colour frame and (if given) its depth, stamped dt apart; return the output."""
        nonlocal i
        i += 1
        hd = hdr(4000 + i, 0)
        dh = hdr(4000 + i, int(dt * 1e9)) if dt else hd
        return h.frame(
            bgr_to_image(rgb, hd), None if depth is None else depth_msg(depth, dh, encoding)
        )

    def is_2d(out):
        assert len(out.poses) == 5
        assert all(p.source_3d != DEPTH and len(p.keypoints) == 17 for p in out.poses), [
            p.source_3d for p in out.poses
        ]
        return out

    try:
        # depth without any CameraInfo
        out = is_2d(pair(depth_mm))
        assert all(
            p.source_3d == TrackedPose.SOURCE_3D_NONE and len(p.keypoints_3d) == 0
            for p in out.poses
        )
        assert 'no valid camera_info' in node.last_input_problem
        # CameraInfo with K = 0 (an uncalibrated camera)
        h.info(info_msg(hdr(4000, 0), k=[0.0] * 9))
        assert 'unusable' in node.last_input_problem and 'fx=0' in node.last_input_problem
        is_2d(pair(depth_mm))
        # a valid CameraInfo (stamped 1.1 s before the images): 3D from depth
        h.info(info_msg(info_header(hdr(4000 + i + 1, 0))))
        good = pair(depth_mm)
        assert all(p.source_3d == DEPTH for p in good.poses)
        z_full = sorted(p.position.z for p in good.poses)
        problems = c['input_problems']
        # depth at half the resolution: still works (the depth stage scales the pixel coordinates)
        half = cv2.resize(depth_mm, (320, 240), interpolation=cv2.INTER_NEAREST)
        out = pair(half)
        assert all(p.source_3d == DEPTH for p in out.poses)
        assert np.allclose(sorted(p.position.z for p in out.poses), z_full, atol=0.08)
        assert c['input_problems'] == problems and c['depth_resized'] == 1
        # a depth image in a colour encoding
        is_2d(pair(np.zeros((480, 640 * 3), np.uint8), encoding='rgb8'))
        assert "encoding 'rgb8' is not supported" in node.last_input_problem
        # all-NaN depth
        is_2d(pair(np.full((480, 640), np.nan, np.float32)))
        assert 'no valid pixel' in node.last_input_problem
        # stamps that never pair (depth 0.5 s after the colour frame): each frame goes on after
        # depth_wait
        t0 = time.monotonic()
        for _ in range(4):
            is_2d(pair(depth_mm, dt=0.5))
        assert time.monotonic() - t0 < 4 * (node.settings.depth_wait + 2.0)
        assert 'paired' in node.last_input_problem and '+0.500 s' in node.last_input_problem
        assert c['frames_without_depth'] == 4
        # and with the right stamps again, 3D from depth again
        assert all(p.source_3d == DEPTH for p in pair(depth_mm).poses)
        assert c['errors'] == 0 and c['processed'] == i
        time.sleep(0.2)
        err = capfd.readouterr().err
        # one warning per kind although some kinds happened on several frames
        for text in (
            'no valid camera_info',
            'unusable: camera intrinsics unusable (fx=0',
            "encoding 'rgb8' is not supported",
            'no valid pixel',
            'paired with the colour frame',
        ):
            assert err.count(text) == 1, (text, err)
        assert '3D not possible' not in err
        # /diagnostics said so too (WARN with the reason) and counts the frames with and without
        # depth (published at 1 Hz: wait for one sent after the frames above)
        n_before = len(diags)
        deadline = time.monotonic() + 5.0
        while len(diags) < n_before + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        warned = [
            st
            for d in diags
            for st in d.status
            if st.level == DiagnosticStatus.WARN
            and st.message.startswith('depth/camera_info input:')
        ]
        assert warned, [st.message for d in diags for st in d.status]
        kv = {v.key: v.value for v in warned[-1].values}
        assert int(kv['frames_without_depth']) >= 4 and int(kv['input_problems']) >= 1, kv
    finally:
        h.close()


def test_latest_pair_wins(ros, pipeline, rgbd):
    """12 colour + depth pairs sent at once.

    The node processes few of them, counts the rest as dropped, and the newest colour frame is
    processed with its own depth (the pair travels together).
    """
    rgb, depth_mm = rgbd
    h = RgbdHarness(
        pipeline,
        [
            Parameter('use_depth', value=True),
            Parameter('tracker.n_init', value=1),
            Parameter('qos_depth', value=30),
        ],
    )
    try:
        h.info(info_msg(hdr(6000, 0)))
        n = 12
        image = bgr_to_image(rgb, hdr(0))
        depth = depth_msg(depth_mm, hdr(0))
        for i in range(n):
            hd = hdr(6000 + i, 1000 * i)
            image.header = depth.header = hd
            h.pub_depth.publish(depth)
            h.pub.publish(image)
        h.wait_for_stamp((6000 + n - 1, 1000 * (n - 1)))
        time.sleep(0.3)
        c = h.node.stats.counters
        assert c['received'] == n and c['processed'] < n / 2 and c['processed'] + c['dropped'] == n
        assert (
            len(h.poses) == c['processed'] == c['frames_with_depth']
            and c['frames_without_depth'] == 0
        )
        assert all(p.source_3d == DEPTH for p in h.poses[-1].poses) and len(h.poses[-1].poses) == 5
    finally:
        h.close()


def test_compressed_depth_input(ros, pipeline, rgbd):
    """depth_transport compressedDepth (compressed_depth_image_transport PNG): the same 3D."""
    rgb, depth_mm = rgbd
    h = RgbdHarness(
        pipeline,
        [
            Parameter('use_depth', value=True),
            Parameter('tracker.n_init', value=1),
            Parameter('depth_transport', value='compressedDepth'),
        ],
        compressed_depth=True,
    )
    try:
        assert h.node.sub_depth.topic_name == '/depth/image/compressedDepth'
        h.info(info_msg(hdr(7000)))
        out = h.frame(bgr_to_image(rgb, hdr(7001)), compressed_depth_msg(depth_mm, hdr(7001)))
        assert len(out.poses) == 5 and all(p.source_3d == DEPTH for p in out.poses)
        for p in out.poses:
            assert (
                abs(p.position.z - _central_depth(depth_mm, p.x_min, p.y_min, p.x_max, p.y_max))
                < 0.15
            )
        bad = CompressedImage(
            header=hdr(7002), format='16UC1; compressedDepth png', data=b'\0' * 40
        )
        assert all(p.source_3d != DEPTH for p in h.frame(bgr_to_image(rgb, hdr(7002)), bad).poses)
        assert 'compressedDepth image' in h.node.last_input_problem
    finally:
        h.close()


def _hsr_messages():
    """Read the first HSR bag's CameraInfo, rgb8 image and 32FC1 depth (NaN holes), as rclpy."""
    pytest.importorskip('rosbags')
    from rosbags.highlevel import AnyReader

    bag = shared_dir() / 'data' / 'rosbags' / 'hsr_people' / '2019-05-03-12-41-38.bag'
    if not bag.exists():
        pytest.skip(f'shared data missing: {bag}')
    out = {}
    with AnyReader([bag]) as r:
        for c, _, raw in r.messages():
            m = r.deserialize(raw, c.msgtype)
            hd = hdr(m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id)
            if c.msgtype.endswith('CameraInfo'):
                out['info'] = CameraInfo(
                    header=hd,
                    width=m.width,
                    height=m.height,
                    k=list(m.K),
                    d=list(m.D),
                    distortion_model=m.distortion_model,
                )
            else:
                key = 'depth' if m.encoding == '32FC1' else 'rgb'
                out[key] = Image(
                    header=hd,
                    width=m.width,
                    height=m.height,
                    encoding=m.encoding,
                    is_bigendian=m.is_bigendian,
                    step=m.step,
                    data=bytes(m.data),
                )
    return out


def test_hsr_robot_frame_depth_stamped_apart_needs_sync_slop(ros, pipeline):
    """A real HSR frame whose depth is stamped apart from the image needs sync_slop.

    32FC1 depth with NaN, plumb_bob distortion, depth stamped 0.209 s and CameraInfo 0.1 s before
    the image: with the default sync_slop the depth does not pair (the warning gives
    the offset) and the output goes on without it; with sync_slop 0.35 the standing person is
    placed from depth at about 2 m.
    """
    m = _hsr_messages()
    assert m['info'].d and any(m['info'].d)
    depth_m = np.frombuffer(m['depth'].data, np.float32).reshape(480, 640)
    assert np.isnan(depth_m).any()
    for slop in (0.02, 0.35):
        h = RgbdHarness(
            pipeline,
            [
                Parameter('use_depth', value=True),
                Parameter('tracker.n_init', value=1),
                Parameter('sync_slop', value=slop),
            ],
        )
        try:
            h.info(m['info'])
            person = max(h.frame(m['rgb'], m['depth']).poses, key=lambda p: p.y_max - p.y_min)
            if slop == 0.02:
                assert person.source_3d != DEPTH and len(person.keypoints) == 17
                assert (
                    'paired' in h.node.last_input_problem
                    and '-0.209 s' in h.node.last_input_problem
                )
            else:
                ref = float(
                    np.nanmedian(
                        depth_m[
                            int(person.y_min + 0.2 * (person.y_max - person.y_min)) : int(
                                person.y_min + 0.5 * (person.y_max - person.y_min)
                            ),
                            int(person.x_min + 0.35 * (person.x_max - person.x_min)) : int(
                                person.x_max - 0.35 * (person.x_max - person.x_min)
                            ),
                        ]
                    )
                )
                print(
                    f'HSR person: z = {person.position.z:.3f} m from depth (box centre median '
                    f'{ref:.3f} m)'
                )
                assert person.source_3d == DEPTH and abs(person.position.z - ref) < 0.15
                assert 1.7 < person.position.z < 2.3
                assert h.node.stats.counters['input_problems'] == 0
        finally:
            h.close()


# ---------------------------------------------------------------- conversions and markers (no DDS)
def test_depth_image_to_metres_encodings_padding_and_errors():
    mm = np.array([[0, 1000, 2500], [65535, 1, 300]], np.uint16)
    m = depth_image_to_metres(depth_msg(mm, hdr(1)))
    assert m.dtype == np.float32 and np.isnan(m[0, 0])
    assert np.allclose(m[0, 1:], [1.0, 2.5]) and np.isclose(m[1, 2], 0.3)
    assert np.isclose(
        depth_image_to_metres(depth_msg(mm, hdr(1)), depth_scale=0.000125)[0, 1], 0.125
    )
    f = np.array([[np.nan, 1.5], [-1.0, np.inf]], np.float32)
    mf = depth_image_to_metres(depth_msg(f, hdr(1)))
    assert np.isclose(mf[0, 1], 1.5) and np.isnan(mf[0, 0]) and np.isnan(mf[1]).all()
    # padded rows and big-endian data
    padded = np.zeros((2, 8), np.uint16)
    padded[:, :3] = mm
    msg = depth_msg(padded, hdr(1))
    msg.width = 3
    assert np.array_equal(depth_image_to_metres(msg), m, equal_nan=True)
    be = depth_msg(mm.astype('>u2'), hdr(1), '16UC1')
    be.is_bigendian = 1
    assert np.array_equal(depth_image_to_metres(be), m, equal_nan=True)
    for bad, kind, text in (
        (depth_msg(np.zeros((2, 6), np.uint8), hdr(1), 'rgb8'), 'depth_encoding', 'rgb8'),
        (
            Image(height=2, width=3, encoding='16UC1', step=6, data=bytes(7)),
            'depth_data',
            '7 bytes',
        ),
        (Image(height=0, width=0, encoding='32FC1', step=0, data=b''), 'depth_size', 'zero'),
    ):
        with pytest.raises(ImageError, match=text) as e:
            depth_image_to_metres(bad)
        assert e.value.kind == kind


def test_compressed_depth_to_metres():
    mm = np.arange(12, dtype=np.uint16).reshape(3, 4) * 250
    m = depth_image_to_metres(compressed_depth_msg(mm, hdr(1)))
    assert np.isnan(m[0, 0]) and np.allclose(m.ravel()[1:], mm.ravel()[1:] / 1000.0)
    with pytest.raises(ImageError, match='compressedDepth image') as e:
        depth_image_to_metres(
            CompressedImage(format='16UC1; compressedDepth rvl', data=b'\0' * 40)
        )
    assert e.value.kind == 'depth_compressed'


def test_camera_info_to_model():
    cam = camera_info_to_model(info_msg(hdr(1)))
    assert cam.valid() and (cam.width, cam.height) == (640, 480) and cam.fx == 525.0
    zero = info_msg(hdr(1), k=[0.0] * 9)
    assert camera_info_to_model(zero) is None
    assert 'fx=0' in camera_info_problem(zero) and 'calibrate' in camera_info_problem(zero)
    nosize = info_msg(hdr(1), width=0, height=0)
    assert camera_info_to_model(nosize) is None and 'size' in camera_info_problem(nosize)
    assert camera_info_to_model(nosize, image_size=(640, 480)).width == 640
    assert (
        camera_info_to_model(info_msg(hdr(1), k=[525, 0, 319.5, 0, float('nan'), 239.5, 0, 0, 1]))
        is None
    )


def _result(n=2, with_3d=True, smoothed=True):
    """Make a FrameResult of ``n`` tracks (track 1 with 3D from depth, the others without)."""
    from poseflow_ros.depth import Poses3D
    from poseflow_ros.types import Detections, Frame, FrameResult, Poses, TrackOutput, TrackState

    tracks = []
    for j in range(n):
        kp = (
            np.tile(np.array([[300.0 + 10 * j, 200.0]], np.float32), (17, 1))
            + np.arange(17)[:, None]
        )
        sc = np.full(17, 0.9, np.float32)
        raw = kp + (1.5 if smoothed else 0.0)
        box = np.array([280, 150, 360, 420], np.float32)
        tracks.append(
            TrackOutput(
                j + 1,
                TrackState.CONFIRMED,
                5,
                5,
                0,
                box,
                0.8,
                keypoints=kp,
                keypoint_scores=sc,
                detection_index=j,
                keypoints_raw=raw,
                keypoint_scores_raw=sc.copy(),
            )
        )
    p3 = None
    if with_3d:
        p3 = Poses3D.empty(n)
        p3.keypoints[0] = np.c_[
            np.linspace(-0.2, 0.2, 17), np.linspace(-0.8, 0.8, 17), np.full(17, 2.0)
        ]
        p3.scores[0] = 0.8
        p3.keypoints[0, 9] = np.nan  # a wrist without depth
        p3.scores[0, 9] = 0.0
        p3.scores[0, 10] = 0.0  # a point with score 0 is not valid even if finite
        p3.positions[0] = (0.1, 0.0, 2.0)
        p3.velocities[0] = (0.5, 0.0, 0.0)
        p3.source[0] = DEPTH
        if n > 2:  # monocular, position known, velocity not yet
            p3.keypoints[2] = p3.keypoints[0] + 0.5
            p3.scores[2] = 0.4
            p3.positions[2] = (0.6, 0.5, 2.5)
            p3.source[2] = MONO
    frame = Frame(np.zeros((480, 640, 3), np.uint8), 1.0, 'cam', 0)
    return FrameResult(
        frame,
        Detections.empty(),
        Poses.empty(),
        tracks,
        tracks_3d=p3,
        joint_angles=np.full((n, 8), 90.0, np.float32),
        postures=np.ones(n, np.uint8),
    )


def test_result_to_msg_fills_the_3d_and_raw_fields():
    r = _result(3)
    m = result_to_msg(r, hdr(7, 9, 'cam'))
    assert (m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id) == (7, 9, 'cam')
    a, b, mono = m.poses
    assert a.source_3d == DEPTH and len(a.keypoints_3d) == len(a.keypoints_3d_score) == 17
    assert a.keypoints_3d[0].z == pytest.approx(2.0) and a.keypoints_3d_score[0] == pytest.approx(
        0.8
    )
    for j in (9, 10):  # invalid: NaN point and score 0
        assert math.isnan(a.keypoints_3d[j].x) and a.keypoints_3d_score[j] == 0.0
    assert (a.position.x, a.position.z, a.velocity.x) == pytest.approx((0.1, 2.0, 0.5))
    assert b.source_3d == TrackedPose.SOURCE_3D_NONE
    assert len(b.keypoints_3d) == 0 and len(b.keypoints_3d_score) == 0
    assert math.isnan(b.position.x) and math.isnan(b.velocity.z)
    assert (
        mono.source_3d == MONO
        and mono.position.z == pytest.approx(2.5)
        and math.isnan(mono.velocity.x)
    )
    assert len(a.keypoints_raw) == 17 and a.keypoints_raw[0].x == pytest.approx(
        a.keypoints[0].x + 1.5
    )
    assert a.joint_angles[0] == 90.0 and a.posture == 1
    assert math.isnan(a.symmetry) or 0.0 <= a.symmetry <= 1.0
    # smoothing off (raw == reported): keypoints_raw stays empty; no 3D at all: every 3D field
    # empty/NaN
    m2 = result_to_msg(_result(2, with_3d=False, smoothed=False), hdr(7))
    for p in m2.poses:
        assert len(p.keypoints_raw) == 0 and p.source_3d == 0 and len(p.keypoints_3d) == 0
        assert math.isnan(p.position.y) and math.isnan(p.velocity.y)


def test_markers_in_3d_with_person_and_velocity_and_plane_through_k():
    from poseflow_ros.camera import CameraModel
    from poseflow_ros.ros.markers import MarkerBuilder

    r = _result(2)
    mb = MarkerBuilder(depth=2.0, focal_px=0.0, kp_threshold=0.3, lifetime=0.5, velocity_s=1.0)
    cam = CameraModel.from_k(K525, [0] * 5, 640, 480)
    ma = mb.build(r.tracks, hdr(1, 0, 'cam'), 640, 480, r.tracks_3d, cam)
    by = {(m.ns, m.id): m for m in ma.markers}
    joints = by[('joints', 1)]
    assert len(joints.points) == 15  # 17 minus the two without 3D
    assert joints.points[0].z == pytest.approx(2.0) and joints.points[0].y == pytest.approx(-0.8)
    assert by[('person', 1)].type == Marker.SPHERE and by[
        ('person', 1)
    ].pose.position.x == pytest.approx(0.1)
    arrow = by[('velocity', 1)]
    assert arrow.type == Marker.ARROW and arrow.points[1].x - arrow.points[0].x == pytest.approx(
        0.5
    )
    assert '2.00 m' in by[('label', 1)].text
    # track 2 has no 3D: on the 2 m plane through the real K (not the image-width focal length)
    kp = r.tracks[1].keypoints[0]
    p = by[('joints', 2)].points[0]
    want = ((kp[0] - 319.5) / 525 * 2, (kp[1] - 239.5) / 525 * 2, 2.0)
    assert (p.x, p.y, p.z) == pytest.approx(want, abs=1e-4)
    assert ('person', 2) not in by and ('velocity', 2) not in by
    # without a camera: focal length = image width, centre = image centre (as before)
    ma = MarkerBuilder(2.0, 0.0, 0.3, 0.5).build(r.tracks[1:], hdr(1), 640, 480)
    p = [m for m in ma.markers if m.ns == 'joints'][0].points[0]
    assert (p.x, p.y) == pytest.approx(
        ((kp[0] - 320) / 640 * 2, (kp[1] - 240) / 640 * 2), abs=1e-4
    )
    # a standing person's jitter (0.1 m/s) draws no arrow: the previous one is deleted
    r.tracks_3d.velocities[0] = (0.1, 0.0, 0.0)
    ma = mb.build(r.tracks, hdr(2, 0, 'cam'), 640, 480, r.tracks_3d, cam)
    assert [(m.ns, m.action) for m in ma.markers if m.ns == 'velocity'] == [
        ('velocity', Marker.DELETE)
    ]
    # track 1 loses its 3D: its person marker is deleted, its skeleton goes to the plane
    r.tracks_3d.velocities[0] = (0.5, 0.0, 0.0)
    mb.build(r.tracks, hdr(2, 0, 'cam'), 640, 480, r.tracks_3d, cam)
    r2 = _result(2, with_3d=False)
    ma = mb.build(r2.tracks, hdr(2, 0, 'cam'), 640, 480, r2.tracks_3d, cam)
    deleted = {(m.ns, m.id) for m in ma.markers if m.action == Marker.DELETE}
    assert deleted == {('person', 1), ('velocity', 1)}
    namespaces = {m.ns for m in mb.delete_all(hdr(3)).markers}
    assert namespaces == {'skeleton', 'joints', 'label', 'person', 'velocity'}
