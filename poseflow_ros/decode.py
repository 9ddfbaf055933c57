"""Decode stage: raw or compressed image buffers -> H x W x 3 uint8 BGR, with clear errors.

ROS-free: the node passes the fields of sensor_msgs/Image (or CompressedImage) here.
Every problem raises :class:`ImageError` whose message names the problem, so the
caller can log it (rate-limited) and skip the frame.
"""
from __future__ import annotations

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
MAX_SIDE = 16384


class ImageError(ValueError):
    """The input image cannot be used; the message says why."""


def decode_raw(data, height: int, width: int, encoding: str, step: int) -> np.ndarray:
    """Raw pixel buffer (sensor_msgs/Image fields) -> contiguous BGR uint8 image (a copy)."""
    enc = (encoding or '').lower()
    if enc not in ENCODINGS:
        raise ImageError(f"unsupported image encoding '{encoding}' (supported: "
                         f"{', '.join(sorted(ENCODINGS))}); frame skipped")
    if height <= 0 or width <= 0:
        raise ImageError(f'zero-size image ({width}x{height}); frame skipped')
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ImageError(f'image too large ({width}x{height}, max side {MAX_SIDE}); frame skipped')
    ch, code = ENCODINGS[enc]
    row = width * ch
    if step < row:
        raise ImageError(f'step {step} is smaller than width*channels = {row} for {encoding} '
                         f'{width}x{height}; frame skipped')
    buf = np.frombuffer(data, dtype=np.uint8)
    need = step * (height - 1) + row
    if buf.size < need:
        raise ImageError(f'data has {buf.size} bytes but {encoding} {width}x{height} with step {step} '
                         f'needs {step * height}; frame skipped')
    if buf.size > step * height:
        raise ImageError(f'data has {buf.size} bytes, more than step*height = {step * height} '
                         f'for {encoding} {width}x{height}; frame skipped')
    rows = np.lib.stride_tricks.as_strided(buf, shape=(height, row), strides=(step, 1))
    img = rows.reshape(height, width, ch) if ch > 1 else rows.reshape(height, width)
    if code is None:
        return np.ascontiguousarray(img)
    return cv2.cvtColor(np.ascontiguousarray(img), code)


def decode_compressed(data, fmt: str = '') -> np.ndarray:
    """Compressed bytes (jpeg/png, sensor_msgs/CompressedImage) -> BGR uint8."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageError('empty compressed image; frame skipped')
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ImageError(f"cannot decode compressed image (format '{fmt}', {buf.size} bytes); "
                         'frame skipped')
    return img


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
