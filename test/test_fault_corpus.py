"""Fault corpus (issue #11).

Many kinds of bad or unusual input, raw and compressed, through ONE node over real DDS. For each:
the node stays up; bad input is counted (bad_input_frames) with a clear reason and valid but
unusual input (padded rows, odd sizes, 1x1, odd stamps and frame ids, ...) is processed; then the
next good frame is processed and its TrackedPoseArray carries the good frame's header. Logs are
rate-limited per kind.
"""

import os
import struct
import time
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from poseflow_ros.ros.conversions import bgr_to_image  # noqa: E402
from poseflow_ros.video import VideoReader  # noqa: E402
from ros_harness import Harness  # noqa: E402

GOOD_W, GOOD_H = 320, 180


# ------------------------------------------------------------------ inputs
def _hdr(sec=2000, nanosec=0, frame_id='cam'):
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def _raw(img=None, enc='bgr8', h=None, w=None, step=None, data=None, bigendian=0, hdr=None):
    """Build an Image from ``img`` (uint8 HxWxC or HxW) with any field overridden."""
    if img is not None:
        h0, w0 = img.shape[:2]
        ch = 1 if img.ndim == 2 else img.shape[2]
        h = h0 if h is None else h
        w = w0 if w is None else w
        step = w0 * ch if step is None else step
        data = np.ascontiguousarray(img).tobytes() if data is None else data
    return Image(
        header=hdr or _hdr(),
        height=h,
        width=w,
        encoding=enc,
        is_bigendian=bigendian,
        step=step,
        data=data,
    )


def _padded(img, pad):
    """Return ``img`` with ``pad`` zero bytes after every row (a valid, padded row layout)."""
    h, w = img.shape[:2]
    rows = img.reshape(h, -1)
    out = np.zeros((h, rows.shape[1] + pad), np.uint8)
    out[:, : rows.shape[1]] = rows
    return out.tobytes(), rows.shape[1] + pad


def _enc(ext, img, *params):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok, ext
    return buf.tobytes()


def _jpeg_claiming(img, w, h):
    """Make a small JPEG whose frame header (SOF0) claims w x h."""
    b = bytearray(_enc('.jpg', img))
    i = b.index(b'\xff\xc0')
    b[i + 5 : i + 9] = struct.pack('>HH', h, w)
    return bytes(b)


def _png_claiming(img, w, h):
    b = bytearray(_enc('.png', img))
    b[16:24] = struct.pack('>II', w, h)
    return bytes(b)


def _comp(data, fmt='jpeg', hdr=None):
    return CompressedImage(header=hdr or _hdr(), format=fmt, data=data)


@dataclass
class Case:
    name: str
    transport: str  # 'raw' | 'compressed'
    build: Callable  # (good BGR image, header) -> message
    bad: Optional[str] = None  # None: valid, must be processed; else a phrase of the logged reason
    # the header the message carries (valid cases: checked on the output)
    header: Optional[Header] = None


def _cases():
    R, C = 'raw', 'compressed'
    sm = lambda g: cv2.resize(g, (64, 48))  # noqa: E731
    gray = lambda g: cv2.cvtColor(sm(g), cv2.COLOR_BGR2GRAY)  # noqa: E731
    big_side = 'too large'
    cases = [
        # --- raw: encodings
        Case(
            'enc_yuv422',
            R,
            lambda g, hd: _raw(sm(g)[:, :, :2].copy(), 'yuv422', hdr=hd),
            'unsupported image encoding',
        ),
        Case(
            'enc_empty', R, lambda g, hd: _raw(sm(g), '', hdr=hd), "unsupported image encoding ''"
        ),
        Case(
            'enc_unknown',
            R,
            lambda g, hd: _raw(sm(g), 'hsv8', hdr=hd),
            'unsupported image encoding',
        ),
        Case(
            'enc_16UC1',
            R,
            lambda g, hd: _raw(np.zeros((48, 128), np.uint8), '16UC1', w=64, hdr=hd),
            '16-bit',
        ),
        Case(
            'enc_mono16',
            R,
            lambda g, hd: _raw(np.zeros((48, 128), np.uint8), 'mono16', w=64, hdr=hd),
            '16-bit',
        ),
        Case(
            'enc_rgb16',
            R,
            lambda g, hd: _raw(np.zeros((48, 384), np.uint8), 'rgb16', w=64, hdr=hd),
            '16-bit',
        ),
        Case(
            'enc_32FC1',
            R,
            lambda g, hd: _raw(np.zeros((48, 256), np.uint8), '32FC1', w=64, hdr=hd),
            'float',
        ),
        Case(
            'enc_64FC1',
            R,
            lambda g, hd: _raw(np.zeros((48, 512), np.uint8), '64FC1', w=64, hdr=hd),
            'float',
        ),
        Case('enc_bayer', R, lambda g, hd: _raw(gray(g), 'bayer_rggb8', hdr=hd), 'bayer'),
        Case(
            'enc_jpeg_as_raw',
            R,
            lambda g, hd: _raw(gray(g), 'jpeg', hdr=hd),
            'unsupported image encoding',
        ),
        Case('enc_uppercase_BGR8', R, lambda g, hd: _raw(sm(g), 'BGR8', hdr=hd)),
        Case('enc_8UC3', R, lambda g, hd: _raw(sm(g), '8UC3', hdr=hd)),
        Case('enc_8UC1', R, lambda g, hd: _raw(gray(g), '8UC1', hdr=hd)),
        Case(
            'enc_rgba8',
            R,
            lambda g, hd: _raw(cv2.cvtColor(sm(g), cv2.COLOR_BGR2RGBA), 'rgba8', hdr=hd),
        ),
        # --- raw: sizes
        Case('size_0x0', R, lambda g, hd: _raw(None, 'bgr8', 0, 0, 0, b'', hdr=hd), 'zero-size'),
        Case('size_width_0', R, lambda g, hd: _raw(sm(g), w=0, hdr=hd), 'zero-size'),
        Case('size_height_0', R, lambda g, hd: _raw(sm(g), h=0, hdr=hd), 'zero-size'),
        Case('size_width_uint32_max', R, lambda g, hd: _raw(sm(g), w=2**32 - 1, hdr=hd), big_side),
        Case(
            'size_height_uint32_max', R, lambda g, hd: _raw(sm(g), h=2**32 - 1, hdr=hd), big_side
        ),
        Case(
            'size_20000x20000_little_data',
            R,
            lambda g, hd: _raw(sm(g), h=20000, w=20000, step=60000, hdr=hd),
            big_side,
        ),
        Case(
            'size_16384x16384_pixel_limit',
            R,
            lambda g, hd: _raw(sm(g), h=16384, w=16384, step=3 * 16384, hdr=hd),
            big_side,
        ),
        Case(
            'size_16385x1',
            R,
            lambda g, hd: _raw(np.zeros((1, 16385, 3), np.uint8), hdr=hd),
            big_side,
        ),
        Case(
            'size_16000x100_little_data',
            R,
            lambda g, hd: _raw(sm(g), h=100, w=16000, step=48000, hdr=hd),
            'needs',
        ),
        Case('size_1x1', R, lambda g, hd: _raw(sm(g)[:1, :1], hdr=hd)),
        Case('size_2x2_mono', R, lambda g, hd: _raw(gray(g)[:2, :2], 'mono8', hdr=hd)),
        Case('size_16384x1', R, lambda g, hd: _raw(np.full((1, 16384, 3), 90, np.uint8), hdr=hd)),
        Case('size_1x4000', R, lambda g, hd: _raw(np.full((4000, 1, 3), 90, np.uint8), hdr=hd)),
        Case('size_4000x2', R, lambda g, hd: _raw(cv2.resize(g, (4000, 2)), hdr=hd)),
        Case('size_odd_33x25_bgr8', R, lambda g, hd: _raw(cv2.resize(g, (33, 25)), hdr=hd)),
        Case(
            'size_odd_333x187_mono8',
            R,
            lambda g, hd: _raw(
                cv2.cvtColor(cv2.resize(g, (333, 187)), cv2.COLOR_BGR2GRAY), 'mono8', hdr=hd
            ),
        ),
        Case(
            'size_odd_101x57_rgb8',
            R,
            lambda g, hd: _raw(cv2.resize(g, (101, 57))[..., ::-1], 'rgb8', hdr=hd),
        ),
        # --- raw: step and data length
        Case(
            'step_too_small',
            R,
            lambda g, hd: _raw(sm(g), 'rgb8', step=64, hdr=hd),
            'smaller than width',
        ),
        Case('step_zero', R, lambda g, hd: _raw(sm(g), step=0, hdr=hd), 'smaller than width'),
        Case(
            'step_padded_16',
            R,
            lambda g, hd: _raw(None, 'bgr8', 48, 64, *_padded(sm(g), 16)[::-1], hdr=hd),
        ),
        Case(
            'step_padded_1_odd',
            R,
            lambda g, hd: _raw(None, 'bgr8', 48, 64, *_padded(sm(g), 1)[::-1], hdr=hd),
        ),
        Case(
            'step_padded_mono_64',
            R,
            lambda g, hd: _raw(None, 'mono8', 48, 64, *_padded(gray(g), 64)[::-1], hdr=hd),
        ),
        Case(
            'step_padded_10x',
            R,
            lambda g, hd: _raw(
                None,
                'bgra8',
                48,
                64,
                *_padded(cv2.cvtColor(sm(g), cv2.COLOR_BGR2BGRA), 9 * 256)[::-1],
                hdr=hd,
            ),
        ),
        Case(
            'step_too_large_for_data',
            R,
            lambda g, hd: _raw(sm(g), step=64 * 3 + 100, hdr=hd),
            'needs',
        ),
        Case(
            'data_last_row_unpadded',
            R,
            lambda g, hd: _raw(
                None, 'bgr8', 48, 64, 64 * 3 + 8, _padded(sm(g), 8)[0][:-8], hdr=hd
            ),
        ),
        Case(
            'data_short_by_1',
            R,
            lambda g, hd: _raw(sm(g), data=sm(g).tobytes()[:-1], hdr=hd),
            'needs',
        ),
        Case(
            'data_half', R, lambda g, hd: _raw(sm(g), data=sm(g).tobytes()[:4608], hdr=hd), 'needs'
        ),
        Case('data_empty', R, lambda g, hd: _raw(sm(g), data=b'', hdr=hd), 'needs'),
        Case(
            'data_long_by_1',
            R,
            lambda g, hd: _raw(sm(g), data=sm(g).tobytes() + b'\0', hdr=hd),
            'more than',
        ),
        Case(
            'data_double',
            R,
            lambda g, hd: _raw(sm(g), data=sm(g).tobytes() * 2, hdr=hd),
            'more than',
        ),
        Case('is_bigendian_bgr8', R, lambda g, hd: _raw(sm(g), bigendian=1, hdr=hd)),
        Case('is_bigendian_mono8', R, lambda g, hd: _raw(gray(g), 'mono8', bigendian=1, hdr=hd)),
        # --- headers: stamps and frame ids (valid: processed, the header comes back unchanged)
        Case('stamp_zero', R, lambda g, hd: _raw(sm(g), hdr=hd), header=_hdr(0, 0)),
        Case('stamp_negative_sec', R, lambda g, hd: _raw(sm(g), hdr=hd), header=_hdr(-5, 0)),
        Case(
            'stamp_nanosec_uint32_max',
            R,
            lambda g, hd: _raw(sm(g), hdr=hd),
            header=_hdr(2001, 2**32 - 1),
        ),
        Case(
            'stamp_far_future',
            R,
            lambda g, hd: _raw(sm(g), hdr=hd),
            header=_hdr(2**31 - 1, 999999999),
        ),
        Case('stamp_int32_min', R, lambda g, hd: _raw(sm(g), hdr=hd), header=_hdr(-(2**31), 0)),
        Case('frame_id_empty', R, lambda g, hd: _raw(sm(g), hdr=hd), header=_hdr(frame_id='')),
        Case(
            'frame_id_10000_chars',
            R,
            lambda g, hd: _raw(sm(g), hdr=hd),
            header=_hdr(frame_id='f' * 10000),
        ),
        Case(
            'frame_id_odd_chars',
            R,
            lambda g, hd: _raw(sm(g), hdr=hd),
            header=_hdr(frame_id='/kamera äöü/ with spaces\t#1'),
        ),
        # --- compressed: not images
        Case('c_empty', C, lambda g, hd: _comp(b'', hdr=hd), 'empty compressed'),
        Case(
            'c_garbage',
            C,
            lambda g, hd: _comp(b'not an image at all', hdr=hd),
            'not a jpeg or png',
        ),
        Case(
            'c_random_bytes',
            C,
            lambda g, hd: _comp(
                np.random.default_rng(1).integers(0, 256, 5000, np.uint8).tobytes(), 'png', hd
            ),
            'not a jpeg or png',
        ),
        Case(
            'c_format_text', C, lambda g, hd: _comp(b'hello world', 'text', hd), 'not jpeg or png'
        ),
        Case(
            'c_format_text_jpeg_bytes',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g)), 'text', hd),
            'not jpeg or png',
        ),
        Case(
            'c_format_h264',
            C,
            lambda g, hd: _comp(b'\x00\x00\x00\x01gd\x00\x1f' * 50, 'h264', hd),
            'not jpeg or png',
        ),
        Case(
            'c_tiff', C, lambda g, hd: _comp(_enc('.tiff', sm(g)), 'tiff', hd), 'not jpeg or png'
        ),
        Case(
            'c_tiff_bytes_as_jpeg',
            C,
            lambda g, hd: _comp(_enc('.tiff', sm(g)), 'jpeg', hd),
            'not a jpeg or png',
        ),
        Case(
            'c_bmp_bytes', C, lambda g, hd: _comp(_enc('.bmp', sm(g)), '', hd), 'not a jpeg or png'
        ),
        # --- compressed: broken JPEG / PNG
        Case('c_jpeg_magic_only', C, lambda g, hd: _comp(b'\xff\xd8\xff', hdr=hd), 'jpeg'),
        Case(
            'c_jpeg_header_only', C, lambda g, hd: _comp(_enc('.jpg', sm(g))[:120], hdr=hd), 'jpeg'
        ),
        Case(
            'c_jpeg_truncated_half',
            C,
            lambda g, hd: _comp(_enc('.jpg', g)[: len(_enc('.jpg', g)) // 2], hdr=hd),
            'truncated jpeg',
        ),
        Case(
            'c_jpeg_bad_marker',
            C,
            lambda g, hd: _comp(b'\xff\xd8\xff\xe0\x00\x10JFIF\x00' + b'\x11' * 200, hdr=hd),
            'corrupt jpeg',
        ),
        Case(
            'c_jpeg_claims_17000x17000',
            C,
            lambda g, hd: _comp(_jpeg_claiming(sm(g), 17000, 17000), hdr=hd),
            big_side,
        ),
        Case(
            'c_jpeg_claims_16385x8',
            C,
            lambda g, hd: _comp(_jpeg_claiming(sm(g), 16385, 8), hdr=hd),
            big_side,
        ),
        Case(
            'c_jpeg_claims_9000x9000',
            C,
            lambda g, hd: _comp(_jpeg_claiming(sm(g), 9000, 9000), hdr=hd),
            'mpx',
        ),
        Case(
            'c_jpeg_claims_height_0',
            C,
            lambda g, hd: _comp(_jpeg_claiming(sm(g), 64, 0), hdr=hd),
            'zero-size',
        ),
        Case(
            'c_png_claims_17000x17000',
            C,
            lambda g, hd: _comp(_png_claiming(sm(g), 17000, 17000), 'png', hd),
            big_side,
        ),
        Case(
            'c_png_signature_only', C, lambda g, hd: _comp(b'\x89PNG\r\n\x1a\n', 'png', hd), 'png'
        ),
        Case(
            'c_png_truncated_half',
            C,
            lambda g, hd: _comp(_enc('.png', g)[: len(_enc('.png', g)) // 2], 'png', hd),
            'truncated png',
        ),
        Case(
            'c_png_bad_crc',
            C,
            lambda g, hd: _comp(
                _enc('.png', sm(g))[:29] + b'\0\0\0\0' + _enc('.png', sm(g))[33:], 'png', hd
            ),
            'cannot decode',
        ),
        # --- compressed: depth and 16-bit
        Case(
            'c_png16_mono',
            C,
            lambda g, hd: _comp(_enc('.png', np.full((48, 64), 3000, np.uint16)), 'png', hd),
            '16-bit single-channel',
        ),
        Case(
            'c_png16_labelled_compressedDepth',
            C,
            lambda g, hd: _comp(
                _enc('.png', np.full((48, 64), 3000, np.uint16)), '16UC1; compressedDepth png', hd
            ),
            'depth input is not supported',
        ),
        Case(
            'c_compressedDepth_16UC1',
            C,
            lambda g, hd: _comp(
                struct.pack('<iff', 0, 0, 0) + _enc('.png', np.full((48, 64), 3000, np.uint16)),
                '16UC1; compressedDepth png',
                hd,
            ),
            'depth input is not supported',
        ),
        Case(
            'c_compressedDepth_32FC1',
            C,
            lambda g, hd: _comp(
                struct.pack('<iff', 0, 0.5, 0.99)
                + _enc('.png', np.full((48, 64), 300, np.uint16)),
                '32FC1; compressedDepth png',
                hd,
            ),
            'depth image',
        ),
        Case(
            'c_compressedDepth_rvl',
            C,
            lambda g, hd: _comp(b'\0' * 40, '16UC1; compressedDepth rvl', hd),
            'depth image',
        ),
        Case(
            'c_compressedDepth_old_format',
            C,
            lambda g, hd: _comp(b'\0' * 40, '16UC1; compressedDepth', hd),
            'depth image',
        ),
        Case(
            'c_encoding_16UC1_png',
            C,
            lambda g, hd: _comp(
                _enc('.png', np.full((48, 64), 3000, np.uint16)), '16UC1; png compressed 16UC1', hd
            ),
            "encoding '16uc1'",
        ),
        # --- compressed: valid but unusual
        Case(
            'c_png16_colour',
            C,
            lambda g, hd: _comp(_enc('.png', sm(g).astype(np.uint16) * 257), 'png', hd),
        ),
        Case(
            'c_png_alpha',
            C,
            lambda g, hd: _comp(_enc('.png', cv2.cvtColor(sm(g), cv2.COLOR_BGR2BGRA)), 'png', hd),
        ),
        Case(
            'c_png_gray',
            C,
            lambda g, hd: _comp(_enc('.png', gray(g)), 'mono8; png compressed mono8', hd),
        ),
        Case(
            'c_jpeg_gray',
            C,
            lambda g, hd: _comp(_enc('.jpg', gray(g)), 'mono8; jpeg compressed mono8', hd),
        ),
        Case(
            'c_jpeg_progressive',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g), cv2.IMWRITE_JPEG_PROGRESSIVE, 1), hdr=hd),
        ),
        Case('c_jpeg_1x1', C, lambda g, hd: _comp(_enc('.jpg', sm(g)[:1, :1]), hdr=hd)),
        Case('c_png_2x2', C, lambda g, hd: _comp(_enc('.png', sm(g)[:2, :2]), 'png', hd)),
        Case(
            'c_jpeg_3000x2', C, lambda g, hd: _comp(_enc('.jpg', cv2.resize(g, (3000, 2))), hdr=hd)
        ),
        Case(
            'c_jpeg_odd_333x187',
            C,
            lambda g, hd: _comp(_enc('.jpg', cv2.resize(g, (333, 187))), hdr=hd),
        ),
        Case(
            'c_format_rgb8_jpeg',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g)), 'rgb8; jpeg compressed bgr8', hd),
        ),
        Case('c_format_empty', C, lambda g, hd: _comp(_enc('.jpg', sm(g)), '', hd)),
        Case('c_format_uppercase', C, lambda g, hd: _comp(_enc('.jpg', sm(g)), 'JPEG', hd)),
        Case('c_format_png_jpeg_bytes', C, lambda g, hd: _comp(_enc('.jpg', sm(g)), 'png', hd)),
        Case(
            'c_jpeg_trailing_bytes',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g)) + b'\0' * 5000, hdr=hd),
        ),
        Case(
            'c_stamp_far_future',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g)), hdr=hd),
            header=_hdr(2**31 - 1, 5),
        ),
        Case(
            'c_frame_id_long',
            C,
            lambda g, hd: _comp(_enc('.jpg', sm(g)), hdr=hd),
            header=_hdr(frame_id='c' * 5000),
        ),
    ]
    return cases


CASES = _cases()


def test_corpus_size():
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    assert len(CASES) >= 60
    assert (
        sum(c.transport == 'raw' for c in CASES) >= 25
        and sum(c.transport == 'compressed' for c in CASES) >= 25
    )


# ------------------------------------------------------------------ one node for every case
class Corpus:
    def __init__(self, pipeline):
        self.h = Harness(pipeline)
        self.transport = 'raw'
        self.n = 0

    def use(self, transport):
        """Switch the node's input.

        Lifecycle: deactivate, cleanup, set image_transport, configure, activate.
        """
        h = self.h
        if transport != self.transport:
            node = h.node
            assert node.trigger_deactivate() is not None and node.trigger_cleanup() is not None
            node.set_parameters([Parameter('image_transport', value=transport)])
            assert node.autostart(), node.configure_error
            pub = h.pub_c if transport == 'compressed' else h.pub
            h.wait(
                lambda: pub.get_subscription_count() > 0, 5.0, f'{transport} subscription matched'
            )
            h.wait(lambda: h.node._sub_reliability == 'reliable', 5.0, 'auto QoS picked reliable')
            self.transport = transport
        return h

    def next_header(self, prefix):
        self.n += 1
        return _hdr(5000 + self.n, 1000 * self.n, f'{prefix}_{self.n}')


@pytest.fixture(scope='module')
def good(walk_video):
    r = VideoReader(walk_video)
    img = None
    for i, f in enumerate(r):
        if i == 30:
            img = cv2.resize(f, (GOOD_W, GOOD_H))
            break
    r.close()
    return img


@pytest.fixture(scope='module')
def ros():
    # every node of this module in its own namespace: frames of other test runs on the same host
    # and domain id cannot reach the corpus node (/diagnostics stays global)
    rclpy.init(args=['--ros-args', '-r', f'__ns:=/fault_corpus_{os.getpid()}'])
    yield
    rclpy.shutdown()


@pytest.fixture(scope='module')
def corpus(ros, pipeline):
    c = Corpus(pipeline)
    assert c.h.node.sub.topic_name.startswith('/fault_corpus_'), c.h.node.sub.topic_name
    yield c
    c.h.close()


def _good_msg(transport, img, hd):
    if transport == 'compressed':
        return _comp(_enc('.jpg', img), 'jpeg', hd)
    return bgr_to_image(img, hd)


def _same_header(a, b):
    return (a.stamp.sec, a.stamp.nanosec, a.frame_id) == (b.stamp.sec, b.stamp.nanosec, b.frame_id)


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_fault_corpus(corpus, good, case):
    h = corpus.use(case.transport)
    node = h.node
    c = node.stats.counters
    bad0, proc0, err0 = c['bad_input'], c['processed'], c['errors']
    hd = case.header or corpus.next_header('case')
    msg = case.build(good, hd)
    h.send(msg, wait_result=False)
    if case.bad is None:  # valid input: processed, the output carries its header
        h.wait(
            lambda: any(_same_header(p.header, hd) for p in h.poses[-3:]),
            10.0,
            f'{case.name}: output for the valid frame',
        )
        # counted after publishing
        h.wait(lambda: c['processed'] == proc0 + 1, 5.0, 'counted as processed')
        assert c['bad_input'] == bad0, node.last_bad_input
    else:  # bad input: counted, with a clear reason
        h.wait(lambda: c['bad_input'] == bad0 + 1, 10.0, f'{case.name}: counted as bad input')
        assert c['processed'] == proc0
        assert case.bad.lower() in node.last_bad_input.lower(), node.last_bad_input
        assert 'frame skipped' in node.last_bad_input
    # the node is alive and the next good frame is processed, with its own header
    ghd = corpus.next_header('good')
    proc1 = c['processed']
    out = h.send(_good_msg(case.transport, good, ghd), timeout=10.0)
    assert _same_header(out.header, ghd)
    # the node counts a frame as processed after publishing it, so the output can arrive first:
    # wait for the count, or the next case would read a counter that is still about to move
    h.wait(lambda: c['processed'] == proc1 + 1, 5.0, 'the good frame counted as processed')
    assert c['errors'] == err0, 'an exception escaped the decode checks'
    assert node.state_label() == 'active' and node._worker.is_alive()


def test_17000px_jpeg_refused_from_its_header_in_microseconds(good):
    from poseflow_ros.decode import ImageError, decode_compressed

    data = _jpeg_claiming(cv2.resize(good, (64, 48)), 17000, 17000)
    t0 = time.perf_counter()
    with pytest.raises(ImageError, match='too large'):
        decode_compressed(data, 'jpeg')
    assert time.perf_counter() - t0 < 0.05


def test_bad_input_log_is_rate_limited_per_kind(corpus, good, capfd):
    """Ten bad frames of one kind within error_log_period give one log line.

    The next one says how many were held back; another kind is still logged. A live change of
    error_log_period works (rclpy's own throttle raised ValueError on it).
    """
    h = corpus.use('raw')
    node = h.node
    node.set_parameters([Parameter('error_log_period', value=30.0)])
    from poseflow_ros.stats import LogThrottle

    node._log_throttle = LogThrottle(30.0)  # forget what the corpus cases logged before
    try:
        c = node.stats.counters
        bad0 = c['bad_input']
        for i in range(10):
            h.send(
                _raw(cv2.resize(good, (64, 48)), 'nv24', hdr=corpus.next_header('ratelimit')),
                wait_result=False,
            )
            h.wait(lambda: c['bad_input'] == bad0 + i + 1, 5.0, 'bad frame counted')
        h.send(
            _raw(cv2.resize(good, (64, 48)), h=0, hdr=corpus.next_header('ratelimit')),
            wait_result=False,
        )
        h.wait(lambda: c['bad_input'] == bad0 + 11, 5.0, 'bad frame counted')
        h.send(_good_msg('raw', good, corpus.next_header('good')))
        time.sleep(0.2)
        err = capfd.readouterr().err
        assert err.count("unsupported image encoding 'nv24'") <= 1, err
        assert err.count('zero-size') == 1, err
        assert c['errors'] == 0
    finally:
        node.set_parameters([Parameter('error_log_period', value=2.0)])


def test_diagnostics_count_bad_input(corpus, good):
    from diagnostic_msgs.msg import DiagnosticArray

    h = corpus.use('raw')
    h.send(
        _raw(cv2.resize(good, (64, 48)), '32FC1', hdr=corpus.next_header('diag')),
        wait_result=False,
    )
    h.wait(lambda: 'float' in h.node.last_bad_input, 5.0, 'bad frame seen')
    diags = []
    sub = h.io.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)
    try:
        want = h.node.stats.counters['bad_input']

        def found():
            for d in diags:
                for st in d.status:
                    kv = {v.key: v.value for v in st.values}
                    if int(kv.get('bad_input_frames', -1)) >= want and 'float' in kv.get(
                        'last_bad_input', ''
                    ):
                        return kv

        h.wait(lambda: found() is not None, 5.0, 'diagnostics with the bad input count')
        kv = found()
        assert 'float' in kv['last_bad_input'] and int(kv['frame_errors']) == 0
        # odd stamps in the corpus are not counted as lost frames
        assert int(kv['frames_missing_by_stamp_gaps']) < 50
    finally:
        h.io.destroy_subscription(sub)
