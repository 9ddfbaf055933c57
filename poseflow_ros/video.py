"""Video file reading/writing (OpenCV), ROS-free."""

from __future__ import annotations

from pathlib import Path

import cv2


class VideoReader:
    """Iterate frames of a video file; optional looping.

    Raises FileNotFoundError/ValueError early.
    """

    def __init__(self, path, loop: bool = False):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f'video file not found: {self.path}')
        self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            raise ValueError(f'cannot open video {self.path} (unsupported codec/container?)')
        self.loop = loop
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.frame_count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.width = int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read(self):
        """Next BGR frame, or None at the end (unless looping)."""
        ok, frame = self.cap.read()
        if not ok and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        return frame if ok else None

    def __iter__(self):
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def close(self):
        self.cap.release()


class VideoWriter:
    """mp4 writer that opens lazily on the first frame (size taken from it)."""

    def __init__(self, path, fps: float):
        self.path = Path(path)
        self.fps = fps
        self._w = None
        self.frames = 0

    def write(self, frame):
        if self._w is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            self._w = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (w, h)
            )
            if not self._w.isOpened():
                raise RuntimeError(f'cannot write video {self.path}')
        self._w.write(frame)
        self.frames += 1

    def close(self):
        if self._w is not None:
            self._w.release()
            self._w = None
