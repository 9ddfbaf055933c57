"""Decode stage: every supported encoding round-trips; every bad input raises a clear ImageError."""
import cv2
import numpy as np
import pytest

from poseflow_ros.decode import ImageError, decode_compressed, decode_raw, encode_bgr


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


@pytest.mark.parametrize('kw,needle', [
    (dict(encoding='yuv422'), 'unsupported image encoding'),
    (dict(encoding='16UC1'), 'unsupported image encoding'),
    (dict(height=0), 'zero-size'),
    (dict(width=0), 'zero-size'),
    (dict(step=10), 'smaller than width'),
    (dict(height=80), 'needs'),                 # header says more rows than the data holds
    (dict(height=10), 'more than step'),        # data larger than the header says
])
def test_bad_raw_inputs(img, kw, needle):
    args = dict(data=img.tobytes(), height=37, width=53, encoding='bgr8', step=53 * 3)
    args.update(kw)
    with pytest.raises(ImageError, match=needle):
        decode_raw(**args)


def test_compressed(img):
    ok, png = cv2.imencode('.png', img)
    np.testing.assert_array_equal(decode_compressed(png.tobytes(), 'png'), img)
    with pytest.raises(ImageError, match='cannot decode'):
        decode_compressed(b'not a jpeg at all', 'jpeg')
    with pytest.raises(ImageError, match='empty'):
        decode_compressed(b'', 'jpeg')
