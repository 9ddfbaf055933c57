"""Decode stage: every supported encoding round-trips.

Every bad input raises a clear ImageError.
"""

import struct

import cv2
import numpy as np
import pytest

from poseflow_ros.decode import (
    MAX_PIXELS,
    MAX_SIDE,
    ImageError,
    decode_compressed,
    decode_compressed_depth,
    decode_raw,
    encode_bgr,
    image_header,
)


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)


@pytest.mark.parametrize('enc', ['bgr8', 'rgb8', 'bgra8', 'rgba8'])
def test_colour_round_trip(img, enc):
    data, step = encode_bgr(img, enc)
    out = decode_raw(data, 37, 53, enc, step)
    assert out.shape == (37, 53, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)


def test_rgb_really_swaps_channels(img):
    rgb = img[..., ::-1].copy()
    out = decode_raw(rgb.tobytes(), 37, 53, 'rgb8', 53 * 3)
    np.testing.assert_array_equal(out, img)


def test_mono8_and_padded_step(img):
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    padded = np.zeros((37, 64), np.uint8)
    padded[:, :53] = gray
    out = decode_raw(padded.tobytes(), 37, 53, 'mono8', 64)
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 2], gray)


@pytest.mark.parametrize(
    'kw,needle',
    [
        (dict(encoding='yuv422'), 'unsupported image encoding'),
        (dict(encoding='16UC1'), 'unsupported image encoding'),
        (dict(height=0), 'zero-size'),
        (dict(width=0), 'zero-size'),
        (dict(step=10), 'smaller than width'),
        (dict(height=80), 'needs'),  # header says more rows than the data holds
        (dict(height=10), 'more than step'),  # data larger than the header says
    ],
)
def test_bad_raw_inputs(img, kw, needle):
    args = dict(data=img.tobytes(), height=37, width=53, encoding='bgr8', step=53 * 3)
    args.update(kw)
    with pytest.raises(ImageError, match=needle):
        decode_raw(**args)


def test_compressed(img):
    ok, png = cv2.imencode('.png', img)
    np.testing.assert_array_equal(decode_compressed(png.tobytes(), 'png'), img)
    with pytest.raises(ImageError, match='not a JPEG or PNG'):
        decode_compressed(b'not a jpeg at all', 'jpeg')
    with pytest.raises(ImageError, match='empty'):
        decode_compressed(b'', 'jpeg')


# ---------------------------------------------------------------- compressed: header checks, depth


def test_image_header_reads_sizes_without_decoding(img):
    jpg = cv2.imencode('.jpg', img)[1].tobytes()
    png = cv2.imencode('.png', img)[1].tobytes()
    assert image_header(jpg) == ('jpeg', 53, 37, 8, 3)
    assert image_header(png) == ('png', 53, 37, 8, 3)
    prog = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    assert image_header(prog)[1:3] == (53, 37)


@pytest.mark.parametrize(
    'w,h,ok',
    [
        (MAX_SIDE, 1, True),
        (MAX_SIDE + 1, 1, False),
        (17000, 17000, False),
        (8192, 8192, True),
        (8192, 8193, False),
    ],
)
def test_compressed_size_limits_from_header(img, w, h, ok):
    b = bytearray(cv2.imencode('.jpg', img)[1].tobytes())
    i = b.index(b'\xff\xc0')
    b[i + 5 : i + 9] = struct.pack('>HH', h, w)
    assert (w * h <= MAX_PIXELS and max(w, h) <= MAX_SIDE) == ok
    if (
        ok
    ):  # passes the header checks; the (lying) data then decodes or not, but is not 'too large'
        try:
            decode_compressed(bytes(b), 'jpeg')
        except ImageError as e:
            assert 'too large' not in str(e)
    else:
        with pytest.raises(ImageError, match='too large'):
            decode_compressed(bytes(b), 'jpeg')


@pytest.mark.parametrize(
    'fmt', ['16UC1; compressedDepth png', '32FC1; compressedDepth', 'compressedDepth']
)
def test_compressed_depth_refused_on_the_colour_path(fmt):
    data = (
        struct.pack('<iff', 0, 0, 0)
        + cv2.imencode('.png', np.zeros((4, 4), np.uint16))[1].tobytes()
    )
    with pytest.raises(ImageError, match='depth input is not supported') as e:
        decode_compressed(data, fmt)
    assert e.value.kind == 'depth'


def test_sixteen_bit_png_refused_and_colour_png16_converted(img):
    with pytest.raises(ImageError, match='16-bit single-channel'):
        decode_compressed(cv2.imencode('.png', np.zeros((4, 4), np.uint16))[1].tobytes(), 'png')
    out = decode_compressed(cv2.imencode('.png', img.astype(np.uint16) * 257)[1].tobytes(), 'png')
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)


def test_compressed_depth_16uc1_round_trip():
    """As compressed_depth_image_transport sends 16UC1.

    12-byte ConfigHeader + 16-bit PNG of the values.
    """
    depth = np.random.default_rng(1).integers(0, 10000, (30, 41), dtype=np.uint16)
    data = struct.pack('<iff', 0, 0.0, 0.0) + cv2.imencode('.png', depth)[1].tobytes()
    out = decode_compressed_depth(data, '16UC1; compressedDepth png')
    assert out.dtype == np.uint16 and out.shape == (30, 41)
    np.testing.assert_array_equal(out, depth)


def test_compressed_depth_32fc1_inverse_depth_quantisation():
    """32FC1: the publisher's inverse-depth quantisation is undone: depth = A / (v - B).

    The publisher stores v = A / d + B (A = z0 (z0 + 1), B = 1 - A / depth_max) as uint16, 0 for no
    depth.
    """
    z0, dmax = 100.0, 10.0
    a = np.float32(z0 * (z0 + 1.0))
    b = np.float32(1.0 - a / dmax)
    depth = np.random.default_rng(2).uniform(0.5, 9.0, (20, 25)).astype(np.float32)
    depth[0, 0] = np.nan
    inv = np.zeros(depth.shape, np.uint16)
    ok = depth < dmax
    inv[ok] = (a / depth[ok] + b).astype(np.uint16)
    data = struct.pack('<iff', 0, float(a), float(b)) + cv2.imencode('.png', inv)[1].tobytes()
    out = decode_compressed_depth(data, '32FC1; compressedDepth png')
    assert out.dtype == np.float32 and np.isnan(out[0, 0])
    good = ~np.isnan(depth)
    # quantisation step at depth d is about d^2 / A: < 1 % of 9 m here
    np.testing.assert_allclose(out[good], depth[good], rtol=0.01)


@pytest.mark.parametrize(
    'data,fmt,needle',
    [
        (b'\0' * 8, '16UC1; compressedDepth png', '12-byte header'),
        (b'\0' * 40, '16UC1; compressedDepth rvl', 'rvl is not supported'),
        (b'\0' * 40, 'bgr8; compressedDepth png', "encoding 'bgr8'"),
        (b'\0' * 40, 'png', 'not a compressedDepth'),
        (struct.pack('<iff', 0, 0, 0) + b'\xff\xd8\xff\xe0', '16UC1; compressedDepth png', 'JPEG'),
    ],
)
def test_compressed_depth_errors(data, fmt, needle):
    with pytest.raises(ImageError, match=needle):
        decode_compressed_depth(data, fmt)


def test_compressed_depth_8bit_png_refused():
    data = (
        struct.pack('<iff', 0, 0, 0)
        + cv2.imencode('.png', np.zeros((4, 4), np.uint8))[1].tobytes()
    )
    with pytest.raises(ImageError, match='expected 16-bit'):
        decode_compressed_depth(data, '16UC1; compressedDepth png')


def test_raw_pixel_limit():
    with pytest.raises(ImageError, match='too large'):
        decode_raw(b'', 16384, 16384, 'bgr8', 3 * 16384)
