"""The offline bag tool (python -m poseflow_ros.bag) on real bags.

ROS 1 HSR bags with NaN depth and distortion, a ROS 2 sqlite3 bag with 16UC1 depth, a ROS 2 mcap
bag of compressed video frames.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import need_shared

from poseflow_ros.ros import bag_tool
from poseflow_ros.ros.bag_tool import BagError, Options, Pairer, choose_topics

HSR = 'data/rosbags/hsr_people'
HSR_BAGS = ('2019-05-03-12-41-38', '2019-05-03-12-42-18', '2019-05-03-12-42-25')
RGB, DEPTH, INFO = (
    '/hero/head_rgbd_sensor/rgb/image_raw',
    '/hero/head_rgbd_sensor/depth_registered/image',
    '/hero/head_rgbd_sensor/rgb/camera_info',
)
IMG, CIMG, CINFO = (
    'sensor_msgs/msg/Image',
    'sensor_msgs/msg/CompressedImage',
    'sensor_msgs/msg/CameraInfo',
)


# ------------------------------------------------------------------ helpers
def read_bag(path: Path):
    """[(topic, log ns, rosbags message)] of a bag (ROS 1 or 2), read with rosbags only."""
    from rosbags.highlevel import AnyReader

    with AnyReader([Path(path)]) as r:
        return [(c.topic, t, r.deserialize(raw, c.msgtype)) for c, t, raw in r.messages()]


def box_centre_depth(depth: np.ndarray, pose) -> float:
    """Median valid depth of the central part of a person box (chest area): the tests' truth."""
    w, h = pose.x_max - pose.x_min, pose.y_max - pose.y_min
    roi = depth[
        int(pose.y_min + 0.25 * h) : int(pose.y_min + 0.5 * h),
        int(pose.x_min + 0.3 * w) : int(pose.x_max - 0.3 * w),
    ].astype(np.float64)
    roi = roi[np.isfinite(roi) & (roi > 0)]
    return float(np.median(roi))


def write_ros2_bag(path: Path, messages, storage: str = 'sqlite3'):
    """Write a ROS 2 bag of (topic, msgtype, log ns, rclpy message) tuples with rosbags."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    w = Writer(path, version=9, storage_plugin=StoragePlugin[storage.upper()])
    w.open()
    conns = {}
    for topic, msgtype, t, msg in messages:
        if topic not in conns:
            conns[topic] = w.add_connection(topic, msgtype, typestore=ts)
        w.write(conns[topic], t, serialize_message(msg))
    w.close()
    return path


def header(stamp_ns: int, frame_id: str):
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    return Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id)


def check_output_headers(out_dir: Path, source_bag: Path, image_topic: str, n: int):
    """Check that the output bag reads back with rosbags.

    Its TrackedPoseArray and MarkerArray carry the headers of the first ``n`` source images in
    order.
    """
    src = [m.header for t, _, m in read_bag(source_bag) if t == image_topic][:n]
    out = read_bag(out_dir / bag_tool.OUT_NAME)
    poses = [m for t, _, m in out if t == 'tracked_poses']
    assert [(p.header.stamp.sec, p.header.stamp.nanosec, p.header.frame_id) for p in poses] == [
        (h.stamp.sec, h.stamp.nanosec, h.frame_id) for h in src
    ]
    for t, _, m in out:
        if t == 'markers':
            for mk in m.markers:
                assert mk.header.frame_id == src[0].frame_id
    return poses


# ------------------------------------------------------------------ unit: topics and pairing
def test_choose_topics_finds_and_names_ambiguity():
    hsr = {RGB: IMG, DEPTH: IMG, INFO: CINFO}
    assert choose_topics(hsr) == bag_tool.Topics(RGB, DEPTH, INFO)
    assert choose_topics(hsr, depth='none', camera_info='none') == bag_tool.Topics(RGB, None, None)
    two = {'/a/image_raw': IMG, '/b/image_raw/compressed': CIMG}
    with pytest.raises(
        BagError, match=r'2 image topics.*/a/image_raw.*/b/image_raw/compressed.*--image-'
    ):
        choose_topics(two)
    assert choose_topics(two, image='/b/image_raw/compressed').image == '/b/image_raw/compressed'
    with pytest.raises(BagError, match=r"'/nope' is not in the bag"):
        choose_topics(two, image='/nope')
    with pytest.raises(BagError, match=r'is sensor_msgs/msg/CameraInfo, expected'):
        choose_topics({**hsr}, image=INFO)
    # realsense layout: raw and aligned depth, two camera_infos -> the aligned depth, the colour's
    # info
    rs = {
        '/cam/color/image_raw': IMG,
        '/cam/color/camera_info': CINFO,
        '/cam/depth/image_rect_raw': IMG,
        '/cam/depth/camera_info': CINFO,
        '/cam/aligned_depth_to_color/image_raw': IMG,
    }
    assert choose_topics(rs) == bag_tool.Topics(
        '/cam/color/image_raw', '/cam/aligned_depth_to_color/image_raw', '/cam/color/camera_info'
    )
    with pytest.raises(BagError, match=r'2 depth topics.*--depth-topic'):
        choose_topics({'/c/image': IMG, '/d1/depth': IMG, '/d2/depth': IMG})
    with pytest.raises(BagError, match=r'no colour image topic'):
        choose_topics({DEPTH: IMG, INFO: CINFO})


class _H:
    def __init__(self, ns):
        self.header = type(
            'h', (), {'stamp': type('s', (), {'sec': ns // 10**9, 'nanosec': ns % 10**9})}
        )()


def test_pairer_nearest_within_slop_in_order():
    p = Pairer(slop_ns=20_000_000, with_depth=True)
    ms = 1_000_000
    out = p.add_colour(0, _H(100 * ms)) + p.add_depth(_H(95 * ms)) + p.add_colour(1, _H(133 * ms))
    assert out == []  # both may still get a closer depth
    out += p.add_depth(_H(131 * ms))  # > 100 + 20 ms: frame 100 is decided
    out += p.add_depth(_H(200 * ms))  # > 133 + 20 ms: frame 133 is decided
    out += p.add_colour(2, _H(300 * ms)) + p.finish()  # nothing within 20 ms of 300 ms
    assert [(c.stamp // ms, None if d is None else d[0] // ms) for c, d in out] == [
        (100, 95),
        (133, 131),
        (300, None),
    ]
    q = Pairer(slop_ns=10 * ms, with_depth=False)  # without depth every frame goes at once
    assert len(q.add_colour(0, _H(5 * ms))) == 1


# ------------------------------------------------------------------ real ROS 1 bags
@pytest.fixture(scope='module')
def hsr_runs(tmp_path_factory):
    runs = {}
    for name in HSR_BAGS:
        bag = need_shared(f'{HSR}/{name}.bag')
        out = tmp_path_factory.mktemp(name)
        s = bag_tool.run(
            Options(
                [bag],
                out,
                device='cpu',
                max_frames=1,
                debug_image=(name == HSR_BAGS[0]),
                progress=False,
            )
        )
        runs[name] = (bag, out, s)
    return runs


@pytest.mark.parametrize('name', HSR_BAGS)
def test_hsr_bag_standing_person_at_about_2m(hsr_runs, name):
    """Every HSR bag (ROS 1, rgb8, 32FC1 with NaN, plumb_bob, CameraInfo 1.1 s early).

    The standing person in front gets a depth position at 1.5-2.5 m whose z is within 0.15 m of the
    raw depth in the middle of its box (measured: z 1.99 / 1.76 / 1.76 m; box-centre depth 1.96 /
    1.73 / 1.73 m).
    """
    bag, out, s = hsr_runs[name]
    assert s['ros_version'] == 1 and s['topics'] == {
        'image': RGB,
        'depth': DEPTH,
        'camera_info': INFO,
    }
    assert s['frames'] == 1 and s['frames_with_depth'] == 1 and s['frames_with_camera_info'] == 1
    assert s['problems'] == {}
    src = read_bag(bag)
    d = next(m for t, _, m in src if t == DEPTH)
    assert d.encoding == '32FC1'
    depth = np.frombuffer(d.data, np.float32).reshape(d.height, d.width)
    assert np.isnan(depth).mean() > 0.3  # the NaN holes are really there
    poses = check_output_headers(out, bag, RGB, 1)
    standing = [p for p in poses[0].poses if p.posture == 1]  # POSTURE_STANDING
    assert standing
    p = max(standing, key=lambda p: p.y_max - p.y_min)  # the one in front (others far behind)
    assert p.source_3d == 1  # SOURCE_3D_DEPTH
    dist = float(np.linalg.norm([p.position.x, p.position.y, p.position.z]))
    assert 1.5 <= dist <= 2.5, dist
    assert abs(p.position.z - box_centre_depth(depth, p)) < 0.15
    assert len(p.keypoints_3d) == 17 and max(p.keypoints_3d_score) > 0.5
    tr = s['tracks'][str(p.track_id)]['position_3d']
    assert tr['source'] == {'depth': 1} and abs(tr['median_distance_m'] - dist) < 1e-3


def test_hsr_output_bag_types_video_and_debug_image(hsr_runs):
    import json as _json

    _, out, s = hsr_runs[HSR_BAGS[0]]
    mcap = out / bag_tool.OUT_NAME
    assert mcap.is_file() and not any(p.name.startswith('.') for p in out.iterdir())
    topics = {t for t, _, _ in read_bag(mcap)}
    assert topics == {'tracked_poses', 'markers', 'debug_image'}
    # the registered hashes are rosidl's (what a live node's publisher announces), and sit in the
    # file
    share = Path(bag_tool.sys.prefix) / 'share'
    want = next(
        h['hash_string']
        for h in _json.loads((share / 'poseflow_ros/msg/TrackedPoseArray.json').read_text())[
            'type_hashes'
        ]
        if h['type_name'] == bag_tool.POSES_TYPE
    )
    assert s['outputs']['type_hashes'][bag_tool.POSES_TYPE] == want
    assert want.encode() in mcap.read_bytes()
    dbg = next(m for t, _, m in read_bag(mcap) if t == 'debug_image')
    assert (dbg.width, dbg.height, dbg.encoding) == (640, 480, 'bgr8')
    cap = cv2.VideoCapture(str(out / 'annotated.mp4'))
    ok, frame = cap.read()
    # + status band
    assert ok and frame.shape == (480 + 22, 640, 3) and s['outputs']['video_frames'] == 1
    assert json.loads((out / 'summary.json').read_text())['frames'] == 1


# ------------------------------------------------------------------ ROS 2 bags
def _five_people_messages(n: int):
    """N frames of the five_people Kinect frame as a ROS 2 recording.

    bgr8 colour, 16UC1 depth in mm (+4 ms), CameraInfo logged after the first image (so the first
    frame uses the first valid one).
    """
    from sensor_msgs.msg import CameraInfo, Image

    d = need_shared('data/rgbd/five_people')
    bgr = cv2.imread(str(d / 'five_people_rgb.png'))
    mm = cv2.imread(str(d / 'five_people_depth_mm.png'), cv2.IMREAD_UNCHANGED)
    msgs = []
    for i in range(n):
        t = 1_700_000_000 * 10**9 + i * 33_333_333
        img = Image(
            header=header(t, 'kinect_rgb_optical_frame'),
            height=480,
            width=640,
            encoding='bgr8',
            step=640 * 3,
        )
        img.data = bgr.tobytes()
        dep = Image(
            header=header(t + 4_000_000, 'kinect_rgb_optical_frame'),
            height=480,
            width=640,
            encoding='16UC1',
            step=640 * 2,
        )
        dep.data = mm.tobytes()
        info = CameraInfo(
            header=header(t, 'kinect_rgb_optical_frame'),
            height=480,
            width=640,
            distortion_model='plumb_bob',
            d=[0.0] * 5,
            k=[525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0],
        )
        msgs += [
            ('/kinect/rgb/image_raw', IMG, t + 10_000_000, img),
            ('/kinect/depth_registered/image_raw', IMG, t + 12_000_000, dep),
            ('/kinect/rgb/camera_info', CINFO, t + 13_000_000, info),
        ]
    return msgs, mm


def test_ros2_sqlite_bag_with_16uc1_depth(tmp_path):
    msgs, mm = _five_people_messages(3)
    bag = write_ros2_bag(tmp_path / 'five', msgs, 'sqlite3')
    out = tmp_path / 'out'
    s = bag_tool.run(Options([bag], out, device='cpu', max_frames=2, video=False, progress=False))
    assert s['ros_version'] == 2 and s['frames'] == 2 and s['frames_with_depth'] == 2
    assert s['frames_with_camera_info'] == 2
    assert s['depth_pairing']['depth_minus_colour_ms']['p50'] == pytest.approx(4.0, abs=1e-3)
    poses = check_output_headers(out, bag, '/kinect/rgb/image_raw', 2)
    last = poses[-1].poses  # n_init 2: confirmed on the second frame
    assert len(last) == 5
    depth = mm.astype(np.float32) / 1000.0
    depth[mm == 0] = np.nan
    for p in last:  # millimetres read as such: z matches the raw depth
        assert p.source_3d == 1
        assert abs(p.position.z - box_centre_depth(depth, p)) < 0.15, (p.track_id, p.position)


def test_ros2_mcap_compressed_video_without_depth(tmp_path, walk_video):
    from sensor_msgs.msg import CompressedImage

    cap = cv2.VideoCapture(str(walk_video))
    msgs = []
    for i in range(3):
        ok, frame = cap.read()
        assert ok
        t = 5 * 10**9 + i * 40_000_000
        m = CompressedImage(header=header(t, 'camera'), format='jpeg')
        m.data = cv2.imencode('.jpg', frame)[1].tobytes()
        msgs.append(('/camera/image_raw/compressed', CIMG, t, m))
    bag = write_ros2_bag(tmp_path / 'walk', msgs, 'mcap')
    out = tmp_path / 'out'
    s = bag_tool.run(Options([bag / 'walk.mcap'], out, device='cpu', video=True, progress=False))
    assert s['frames'] == 3 and s['frames_with_depth'] == 0 and s['frames_with_camera_info'] == 0
    assert s['topics'] == {
        'image': '/camera/image_raw/compressed',
        'depth': None,
        'camera_info': None,
    }
    poses = check_output_headers(out, bag / 'walk.mcap', '/camera/image_raw/compressed', 3)
    assert sum(len(p.poses) for p in poses) >= 1
    assert all(p.source_3d == 0 and len(p.keypoints_3d) == 0 for a in poses for p in a.poses)
    assert s['outputs']['video_frames'] == 3


def test_ambiguous_bag_names_topics(tmp_path):
    msgs, _ = _five_people_messages(1)
    img = msgs[0]
    bag = write_ros2_bag(tmp_path / 'two', [img, ('/other/image', IMG, img[2] + 1, img[3])])
    assert bag_tool.main([str(bag), '--out', str(tmp_path / 'o')]) == 2
    with pytest.raises(
        BagError, match=r'/kinect/rgb/image_raw.*/other/image|/other/image.*/kinect'
    ):
        bag_tool.run(Options([bag], tmp_path / 'o'))


def test_hsr_bag_converted_to_ros2_mcap_gives_the_same_person(hsr_runs, tmp_path):
    """The same recording as a ROS 2 mcap bag (rosbags-convert).

    CDR messages deserialised by rclpy give the same 3D position as the ROS 1 bag (field-by-field
    copy), and the output carries the same header.
    """
    import subprocess
    import sys

    bag, _, s1 = hsr_runs[HSR_BAGS[0]]
    dst = tmp_path / 'hsr2'
    convert = str(Path(sys.prefix) / 'bin' / 'rosbags-convert')
    subprocess.run(
        [
            convert,
            '--src',
            str(bag),
            '--dst',
            str(dst),
            '--dst-storage',
            'mcap',
            '--dst-typestore',
            'ros2_kilted',
        ],
        check=True,
        capture_output=True,
    )
    out = tmp_path / 'out'
    s2 = bag_tool.run(Options([dst], out, device='cpu', video=False, progress=False))
    assert (
        s2['ros_version'] == 2
        and s2['frames_with_depth'] == 1
        and s2['frames_with_camera_info'] == 1
    )
    check_output_headers(out, bag, RGB, 1)
    p1 = {t: v['position_3d']['median'] for t, v in s1['tracks'].items() if 'position_3d' in v}
    p2 = {t: v['position_3d']['median'] for t, v in s2['tracks'].items() if 'position_3d' in v}
    assert p1.keys() == p2.keys() and p1
    for t, v in p1.items():
        assert np.allclose(v, p2[t], atol=1e-3), (v, p2[t])


def test_compressed_depth_topic_decodes_to_metres():
    """A compressedDepth (PNG, 16UC1 mm) depth topic gives metres, NaN where the sensor had 0."""
    import struct

    from sensor_msgs.msg import CompressedImage

    png = need_shared('data/rgbd/five_people') / 'five_people_depth_mm.png'
    mm = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    m = CompressedImage(format='16UC1; compressedDepth png')
    m.data = struct.pack('<iff', 0, 0.0, 0.0) + cv2.imencode('.png', mm)[1].tobytes()
    # what the bag tool decodes with
    from poseflow_ros.ros.conversions import (
        depth_image_to_metres,
    )

    d = depth_image_to_metres(m, 0.0)
    assert d.dtype == np.float32 and d.shape == mm.shape
    assert np.array_equal(np.isnan(d), mm == 0)
    assert np.allclose(d[mm > 0], mm[mm > 0] / 1000.0, atol=1e-6)


def test_camera_info_with_zero_k_is_reported_and_2d_goes_on(tmp_path):
    """CameraInfo with K = 0 (an uncalibrated camera) beside valid depth.

    The summary counts the problem, no 3D is claimed, and the 2D poses still come out for every
    frame.
    """
    msgs, _ = _five_people_messages(2)
    for topic, _, _, m in msgs:
        if topic.endswith('camera_info'):
            m.k = [0.0] * 9
    bag = write_ros2_bag(tmp_path / 'k0', msgs)
    s = bag_tool.run(Options([bag], tmp_path / 'out', device='cpu', video=False, progress=False))
    assert s['frames'] == 2 and s['frames_with_depth'] == 2 and s['frames_with_camera_info'] == 0
    assert any(k.startswith('camera_info unusable') and 'K = 0' in k for k in s['problems']), s[
        'problems'
    ]
    assert any(k.startswith('3D: ') for k in s['problems']), s['problems']
    poses = check_output_headers(tmp_path / 'out', bag, '/kinect/rgb/image_raw', 2)
    assert len(poses[-1].poses) == 5
    assert all(p.source_3d == 0 and not any(p.keypoints_3d_score) for p in poses[-1].poses)
