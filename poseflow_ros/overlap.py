"""Frame overlap: two stages of consecutive frames at the same time.

The caller's thread runs the first stage (decode, person detection) of frame t+1 while a worker
runs the second stage (pose, depth, tracking, outputs) of frame t. No ROS types.

    second = SecondStage(lambda fd: use(pipe.process(fd[0], detections=fd[1])))
    for frame in frames:
        second.hand((frame, pipe.detect(frame.image)))   # returns once the worker has taken it
    second.close()                                        # finishes the last one, stops the worker

Why it pays on a CPU: onnxruntime and torch release the GIL inside their kernels, and neither model
keeps both cores busy all the time (crops, NMS, tracking and publishing are single-threaded
Python), so the two stages fill each other's gaps. What it costs: a frame's second stage may wait
for the previous frame's, so latency rises by up to one second-stage time while throughput rises.

:class:`OverlapGovernor` turns the overlap on only while the caller falls behind its source (the
next frame is already waiting when it comes for one), and off again once it keeps up, so a node
that keeps up with its camera keeps the lower latency of one stage after another.

The hand-over is a rendezvous, not a queue: :meth:`SecondStage.hand` returns only when the worker
has taken the item. So at most two frames are in flight (one in each stage), results stay in frame
order (one worker), and the caller picks its next frame only when it can start on it at once (for
the ROS node: the newest camera frame, latest-frame-wins as before).
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Optional

_STOP = object()


class SecondStage:
    """A worker thread that runs ``fn(item)`` on each item handed to it, in order.

    An exception goes to ``on_error`` and skips that item; the worker carries on.
    """

    def __init__(
        self,
        fn: Callable[[Any], None],
        on_error: Optional[Callable[[BaseException], None]] = None,
        name: str = 'second-stage',
    ):
        self._fn = fn
        self._on_error = on_error or (lambda e: None)
        self._cv = threading.Condition()
        self._item = None  # the item handed over and not yet taken
        self._has_item = False
        self._busy = False  # the worker is running fn
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def hand(self, item, timeout: Optional[float] = None) -> bool:
        """Give ``item`` to the worker.

        Returns True once the worker has taken it (after the item before it finished), False on
        timeout (the item is then withdrawn) or after :meth:`close`.
        """
        with self._cv:
            if self._closed:
                return False
            ok = self._cv.wait_for(lambda: not self._has_item or self._closed, timeout)
            if not ok or self._closed:
                return False
            self._item, self._has_item = item, True
            self._cv.notify_all()
            ok = self._cv.wait_for(lambda: not self._has_item or self._closed, timeout)
            if not ok and self._has_item:
                self._item, self._has_item = None, False  # not taken in time: withdraw it
                return False
            return ok and not self._closed

    def busy(self) -> bool:
        """Tell whether the worker is running an item or has one waiting."""
        with self._cv:
            return self._busy or self._has_item

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until the worker has finished everything handed to it."""
        with self._cv:
            return self._cv.wait_for(lambda: not (self._busy or self._has_item), timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Let the running item finish, then stop the worker (an item not yet taken is dropped)."""
        with self._cv:
            self._closed = True
            self._item, self._has_item = None, False
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._has_item or self._closed)
                if self._closed:
                    return
                item, self._item, self._has_item = self._item, None, False
                self._busy = True
                self._cv.notify_all()
            try:
                self._fn(item)
            except BaseException as e:  # noqa: BLE001 -- reported; the next item is still run
                try:
                    self._on_error(e)
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                item = None
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()


class OverlapGovernor:
    """Decide, frame by frame, whether the two stages overlap (the node's overlap_when_behind).

    The caller tells :meth:`picked`, for each frame it starts, whether that frame was already
    waiting when it came for one (it is behind its source) or whether it had to wait for it.

    - **On** when the frame was waiting in at least ``on_fraction`` of the last ``window`` frames.
    - **Off** when it was waiting in at most ``off_fraction`` of them (with overlap on, the caller
      now waits for its source: one stage after another may keep up again; if not, it turns on
      again).
    - At least ``min_dwell`` frames between two switches, so a source right at the pipeline's
      speed cannot make it flap. The first switch may come after ``window`` frames.

    No clock and no ROS types: the decisions depend only on the sequence given.
    """

    def __init__(
        self,
        window: int = 25,
        on_fraction: float = 0.8,
        off_fraction: float = 0.3,
        min_dwell: int = 100,
    ):
        if not 0.0 <= off_fraction < on_fraction <= 1.0 or window < 1 or min_dwell < 0:
            raise ValueError(
                'need 0 <= off_fraction < on_fraction <= 1, window >= 1, min_dwell >= 0'
            )
        self.window = int(window)
        self.on_fraction = float(on_fraction)
        self.off_fraction = float(off_fraction)
        self.min_dwell = int(min_dwell)
        self.on = False
        self.switches = 0
        self._waiting = collections.deque(maxlen=self.window)
        self._since = self.min_dwell  # frames since the last switch (the first may come early)

    def picked(self, was_waiting: bool) -> bool:
        """Record one frame started; return whether it is to overlap (True) or not."""
        self._waiting.append(bool(was_waiting))
        self._since += 1
        if self._since >= self.min_dwell and len(self._waiting) == self.window:
            f = sum(self._waiting) / self.window
            if (f >= self.on_fraction) if not self.on else (f <= self.off_fraction):
                self.on = not self.on
                self.switches += 1
                self._since = 0
                self._waiting.clear()
        return self.on
