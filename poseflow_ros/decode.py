"""Decode stage: raw or compressed image buffers -> H x W x 3 uint8 BGR, with clear errors.

ROS-free: the node passes the fields of sensor_msgs/Image (or CompressedImage) here. Every problem
raises :class:`ImageError` whose message names the problem, so the caller can log it (rate-limited)
and skip the frame; ``ImageError.kind`` groups the problems (``encoding``, ``size``, ``data``,
``format``, ``depth``, ``corrupt``) for per-kind log rate limits.

Size limits (raw and compressed alike): at most :data:`MAX_SIDE` pixels per side and
:data:`MAX_PIXELS` pixels in all. A compressed image is checked from its header (JPEG SOF, PNG
IHDR) before anything is decoded, so a small file that claims 17000x17000 costs microseconds, not
seconds.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

# encoding -> (channels, conversion to BGR or None)
ENCODINGS = {
    'bgr8': (3, None),
    'rgb8': (3, cv2.COLOR_RGB2BGR),
    'mono8': (1, cv2.COLOR_GRAY2BGR),
    '8uc1': (1, cv2.COLOR_GRAY2BGR),
    '8uc3': (3, None),
    'bgra8': (4, cv2.COLOR_BGRA2BGR),
    'rgba8': (4, cv2.COLOR_RGBA2BGR),
}
# encodings of depth / 16-bit / float images (sensor_msgs/image_encodings): named as such when
# refused
DEPTH_LIKE = (
    '16uc',
    '16sc',
    '32fc',
    '32sc',
    '64fc',
    'mono16',
    'bgr16',
    'rgb16',
    'bgra16',
    'rgba16',
    '8sc',
    'bayer_',
    'yuv',
    'uyvy',
    'yuyv',
    'nv12',
    'nv21',
)
MAX_SIDE = 16384
MAX_PIXELS = 8192 * 8192  # 67.1 Mpx (201 MB as bgr8); 7680x4320 (33.2 Mpx) passes
COMPRESSED_DEPTH_HEADER = (
    12  # compressed_depth_image_transport ConfigHeader: int32 format, float32[2]
)

_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_JPEG_MAGIC = b'\xff\xd8\xff'


class ImageError(ValueError):
    """The input image cannot be used; the message says why, ``kind`` groups the reason."""

    def __init__(self, message: str, kind: str = 'data'):
        super().__init__(message)
        self.kind = kind


def check_size(width: int, height: int, what: str = 'image') -> None:
    """ImageError unless 0 < width, height <= MAX_SIDE and width * height <= MAX_PIXELS."""
    if height <= 0 or width <= 0:
        raise ImageError(f'zero-size {what} ({width}x{height}); frame skipped', 'size')
    if height > MAX_SIDE or width > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(
            f'{what} too large ({width}x{height}; limits: {MAX_SIDE} px per side, '
            f'{MAX_PIXELS / 1e6:.1f} Mpx); frame skipped',
            'size',
        )


def _unsupported_encoding(encoding: str) -> ImageError:
    enc = (encoding or '').lower()
    supported = ', '.join(sorted(ENCODINGS))
    if enc.startswith(DEPTH_LIKE):
        return ImageError(
            f"unsupported image encoding '{encoding}': 16-bit, float, depth, Bayer and YUV "
            f"images are not supported on this topic (supported: {supported}); frame skipped",
            'encoding',
        )
    return ImageError(
        f"unsupported image encoding '{encoding}' (supported: {supported}); frame skipped",
        'encoding',
    )


def decode_raw(data, height: int, width: int, encoding: str, step: int) -> np.ndarray:
    """Raw pixel buffer (sensor_msgs/Image fields) -> contiguous BGR uint8 image (a copy).

    Rows may be padded (step > width * channels); is_bigendian does not matter for 8-bit encodings.
    """
    enc = (encoding or '').lower()
    if enc not in ENCODINGS:
        raise _unsupported_encoding(encoding)
    check_size(width, height)
    ch, code = ENCODINGS[enc]
    row = width * ch
    if step < row:
        raise ImageError(
            f'step {step} is smaller than width*channels = {row} for {encoding} '
            f'{width}x{height}; frame skipped',
            'data',
        )
    buf = np.frombuffer(data, dtype=np.uint8)
    need = step * (height - 1) + row
    if buf.size < need:
        raise ImageError(
            f'data has {buf.size} bytes but {encoding} {width}x{height} with step {step} '
            f'needs {step * height}; frame skipped',
            'data',
        )
    if buf.size > step * height:
        raise ImageError(
            f'data has {buf.size} bytes, more than step*height = {step * height} '
            f'for {encoding} {width}x{height}; frame skipped',
            'data',
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row), strides=(step, 1))
    img = rows.reshape(height, width, ch) if ch > 1 else rows.reshape(height, width)
    if code is None:
        return np.ascontiguousarray(img)
    return cv2.cvtColor(np.ascontiguousarray(img), code)


# ------------------------------------------------------------------ compressed headers
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_header(b: bytes):
    """(width, height, bits, channels) from a JPEG's first SOF segment (ImageError if none)."""
    i, n = 2, len(b)
    while i + 4 <= n:
        if b[i] != 0xFF:
            raise ImageError(
                f'corrupt JPEG: no marker at byte {i} before the frame header; frame skipped',
                'corrupt',
            )
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        seg = (b[i + 2] << 8) | b[i + 3]
        if seg < 2:
            raise ImageError(
                f'corrupt JPEG: segment length {seg} at byte {i}; frame skipped', 'corrupt'
            )
        if marker in _SOF:
            if i + 10 > n:
                break
            bits, h, w, comps = struct.unpack('>BHHB', b[i + 4 : i + 10])
            return w, h, bits, comps
        i += 2 + seg
    raise ImageError(
        f'truncated or corrupt JPEG: no frame header (SOF) in {n} bytes; frame skipped', 'corrupt'
    )


def _png_header(b: bytes):
    """(width, height, bit depth, colour type) from the IHDR chunk of a PNG."""
    if len(b) < 33 or b[12:16] != b'IHDR':
        raise ImageError(
            f'truncated or corrupt PNG: no IHDR header in {len(b)} bytes; frame skipped', 'corrupt'
        )
    w, h, bits, colour = struct.unpack('>IIBB', b[16:26])
    return w, h, bits, colour


def image_header(data) -> tuple:
    """('jpeg'|'png', width, height, bits per sample, channels) read from the header bytes only."""
    b = bytes(data[:65536]) if not isinstance(data, bytes) else data
    if b.startswith(_JPEG_MAGIC):
        w, h, bits, comps = _jpeg_header(b)
        return 'jpeg', w, h, bits, comps
    if b.startswith(_PNG_MAGIC):
        w, h, bits, colour = _png_header(b)
        channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour, 0)
        return 'png', w, h, bits, channels
    head = b[:8]
    raise ImageError(
        f'not a JPEG or PNG image (first bytes {head!r}); only jpeg and png compressed '
        'images are supported; frame skipped',
        'format',
    )


def _format_parts(fmt: str):
    """'rgb8; jpeg compressed bgr8' -> ('rgb8', 'jpeg compressed bgr8'); 'jpeg' -> ('', 'jpeg')."""
    f = (fmt or '').strip()
    if ';' in f:
        enc, _, rest = f.partition(';')
        return enc.strip(), rest.strip()
    return '', f


def _check_tail(b: bytes, kind: str) -> None:
    # libjpeg decodes a truncated JPEG into a half-grey image with a warning only: refuse it here
    if kind == 'jpeg' and b.rfind(b'\xff\xd9') < 0:
        raise ImageError(
            f'truncated JPEG: no end-of-image marker ({len(b)} bytes); frame skipped', 'corrupt'
        )
    if kind == 'png' and b.rfind(b'IEND') < 0:
        raise ImageError(
            f'truncated PNG: no IEND chunk ({len(b)} bytes); frame skipped', 'corrupt'
        )


def decode_compressed(data, fmt: str = '') -> np.ndarray:
    """Compressed bytes (jpeg/png, sensor_msgs/CompressedImage) -> BGR uint8.

    Refused before decoding: empty data, compressedDepth (depth images), a format that is not an
    image (anything but JPEG/PNG bytes), a header larger than the size limits, 16-bit
    single-channel PNG (depth-like), truncated files.
    """
    b = data if isinstance(data, bytes) else bytes(data)
    if not b:
        raise ImageError('empty compressed image; frame skipped', 'data')
    enc, compression = _format_parts(fmt)
    if 'compresseddepth' in (fmt or '').lower().replace(' ', '').replace('_', ''):
        raise ImageError(
            f"depth image (format '{fmt}'): depth input is not supported on this topic, it "
            'takes colour or mono images (JPEG/PNG); frame skipped',
            'depth',
        )
    if enc and enc.lower() not in ENCODINGS:
        raise ImageError(
            f"compressed image of encoding '{enc}' (format '{fmt}'): only 8-bit colour or "
            f"mono images are supported on this topic ({', '.join(sorted(ENCODINGS))}); "
            'frame skipped',
            'encoding',
        )
    comp = compression.lower()
    if comp and not any(k in comp for k in ('jpeg', 'jpg', 'png')):
        raise ImageError(
            f"compressed format '{fmt}' is not jpeg or png: not an image this node decodes; "
            'frame skipped',
            'format',
        )
    kind, w, h, bits, channels = image_header(b)
    check_size(w, h, f'{kind.upper()} image (size from its header)')
    if kind == 'png' and bits == 16 and channels in (1, 2):
        raise ImageError(
            f"16-bit single-channel PNG {w}x{h} (format '{fmt}'): a depth or 16-bit mono "
            'image, not supported on this topic (8-bit colour or mono only); frame skipped',
            'depth',
        )
    _check_tail(b, kind)
    buf = np.frombuffer(b, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as e:
        raise ImageError(
            f"cannot decode compressed image (format '{fmt}', {buf.size} bytes): "
            f'{str(e).strip()}; frame skipped',
            'corrupt',
        )
    if img is None or img.size == 0:
        raise ImageError(
            f"cannot decode compressed image (format '{fmt}', {buf.size} bytes); frame skipped",
            'corrupt',
        )
    if img.dtype != np.uint8:  # 16-bit colour PNG: 8 bits per channel
        img = (img >> 8).astype(np.uint8)
    return img


def decode_compressed_depth(data, fmt: str) -> np.ndarray:
    """sensor_msgs/CompressedImage from compressed_depth_image_transport -> depth image.

    ``fmt`` is '<encoding>; compressedDepth png' (or the older '<encoding>; compressedDepth');
    ``data`` is a 12-byte ConfigHeader (int32 compression format, float32 depthParam[2],
    little-endian) followed by a 16-bit single-channel PNG. 16UC1 -> uint16 (the values as sent,
    e.g. mm); 32FC1 -> float32 metres from the inverse-depth quantisation: depth = depthParam[0] /
    (v - depthParam[1]), v == 0 -> NaN. 'rvl' is not supported.
    """
    enc, compression = _format_parts(fmt)
    enc_l = enc.lower()
    comp = compression.lower()
    if 'compresseddepth' not in comp.replace(' ', ''):
        raise ImageError(f"not a compressedDepth format: '{fmt}'", 'format')
    if 'rvl' in comp:
        raise ImageError(
            f"compressedDepth rvl is not supported (format '{fmt}'); use png", 'format'
        )
    if enc_l not in ('16uc1', 'mono16', '32fc1'):
        raise ImageError(
            f"compressedDepth encoding '{enc}' not supported (16UC1, mono16 or 32FC1)", 'encoding'
        )
    b = data if isinstance(data, bytes) else bytes(data)
    if len(b) <= COMPRESSED_DEPTH_HEADER:
        raise ImageError(
            f'compressedDepth data of {len(b)} bytes: shorter than its 12-byte header', 'data'
        )
    _fmt, quant_a, quant_b = struct.unpack('<iff', b[:COMPRESSED_DEPTH_HEADER])
    png = b[COMPRESSED_DEPTH_HEADER:]
    kind, w, h, bits, channels = image_header(png)
    if kind != 'png':
        raise ImageError('compressedDepth payload is not a PNG', 'format')
    check_size(w, h, 'compressedDepth PNG (size from its header)')
    if bits != 16 or channels != 1:
        raise ImageError(
            f'compressedDepth PNG has {bits}-bit samples and {channels} channel(s); '
            'expected 16-bit single-channel',
            'format',
        )
    _check_tail(png, 'png')
    raw = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 2:
        raise ImageError(f'cannot decode compressedDepth PNG ({len(png)} bytes)', 'corrupt')
    if enc_l != '32fc1':
        return raw
    v = raw.astype(np.float32)
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (v - np.float32(quant_b))
    depth[raw == 0] = np.nan
    return depth.astype(np.float32)


def encode_bgr(image: np.ndarray, encoding: str = 'bgr8'):
    """BGR uint8 image -> (bytes, step) in the requested 8-bit encoding (inverse of decode_raw)."""
    enc = encoding.lower()
    if enc == 'bgr8':
        out = image
    elif enc == 'rgb8':
        out = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif enc == 'mono8':
        out = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif enc == 'bgra8':
        out = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    elif enc == 'rgba8':
        out = cv2.cvtColor(image, cv2.COLOR_BGR2RGBA)
    else:
        raise ImageError(f"cannot encode to '{encoding}'")
    out = np.ascontiguousarray(out)
    return out.tobytes(), out.strides[0]
