"""Rolling per-stage timing statistics, track summaries, log throttling and loss counting.

No ROS types: used by the node, its diagnostics and the benchmarks.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Dict

import numpy as np


class StageStats:
    """Per-stage milliseconds, and event counters.

    Running count and mean over the node's lifetime, percentiles over the last ``maxlen`` samples
    (a bounded window: nothing grows with uptime).
    """

    def __init__(self, maxlen: int = 2000):
        self._lock = threading.Lock()
        self._ms: Dict[str, collections.deque] = {}
        self._n: Dict[str, int] = {}
        self._sum: Dict[str, float] = {}
        self.maxlen = maxlen
        self.counters = collections.Counter()

    def add(self, timings_ms: Dict[str, float]) -> None:
        with self._lock:
            for k, v in timings_ms.items():
                v = float(v)
                self._ms.setdefault(k, collections.deque(maxlen=self.maxlen)).append(v)
                self._n[k] = self._n.get(k, 0) + 1
                self._sum[k] = self._sum.get(k, 0.0) + v

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def summary(self, last: int = 0) -> Dict[str, Dict[str, float]]:
        """{stage: {mean, p50, p90, p99, n}}.

        With ``last`` = 0: mean and n over every sample so far and the percentiles over the window
        (the last ``maxlen`` samples); else all over the last ``last`` samples.
        """
        with self._lock:
            out = {}
            for k, d in self._ms.items():
                a = np.asarray(d, np.float64)
                if last:
                    a = a[-last:]
                if a.size:
                    mean, n = (
                        (float(a.mean()), int(a.size))
                        if last
                        else (self._sum[k] / self._n[k], self._n[k])
                    )
                    out[k] = {
                        'mean': mean,
                        'p50': float(np.percentile(a, 50)),
                        'p90': float(np.percentile(a, 90)),
                        'p99': float(np.percentile(a, 99)),
                        'n': n,
                    }
            return out

    def sizes(self) -> Dict[str, int]:
        """Return the samples held per stage (bounded by maxlen) -- for the memory tests."""
        with self._lock:
            return {k: len(d) for k, d in self._ms.items()}


class TrackSummary:
    """Persons per frame and track ids in constant memory.

    A histogram of persons per frame (counts above ``hist_max`` share the last bucket), frames,
    total persons, max, the number of distinct track ids and the last ``recent`` new ids. Track ids
    are never reused and new ones are higher than all earlier ones, so an id is new when above the
    highest seen, or within the ``id_window`` just below it and not seen yet (a track reported for
    the first time a little later than a newer one).
    """

    def __init__(self, recent: int = 100, id_window: int = 1000, hist_max: int = 1000):
        self._lock = threading.Lock()
        self.frames = 0
        self.persons = 0
        self.max_persons = 0
        self.histogram = collections.Counter()
        self.distinct_ids = 0
        self.highest_id = 0
        self.recent_ids = collections.deque(maxlen=recent)
        self._seen = set()  # ids > highest_id - id_window
        self.id_window = id_window
        self.hist_max = hist_max

    def add(self, track_ids) -> None:
        ids = [int(i) for i in track_ids]
        with self._lock:
            n = len(ids)
            self.frames += 1
            self.persons += n
            self.max_persons = max(self.max_persons, n)
            self.histogram[min(n, self.hist_max)] += 1
            floor = self.highest_id - self.id_window
            for i in sorted(set(ids)):
                if i in self._seen or i <= floor:
                    continue
                self._seen.add(i)
                self.distinct_ids += 1
                self.recent_ids.append(i)
                self.highest_id = max(self.highest_id, i)
            if len(self._seen) > 2 * self.id_window:
                floor = self.highest_id - self.id_window
                self._seen = {i for i in self._seen if i > floor}

    def sizes(self) -> Dict[str, int]:
        with self._lock:
            return {
                'histogram': len(self.histogram),
                'seen_ids': len(self._seen),
                'recent_ids': len(self.recent_ids),
            }

    def report(self) -> Dict[str, dict]:
        """Summarise persons per frame and track ids (what stats_file and the demo summary hold).

        ``{'persons_per_frame': {frames, mean, max, frames_with_persons, histogram},
        'track_ids': {distinct, highest, recent}}``.
        """
        with self._lock:
            f = self.frames
            return {
                'persons_per_frame': {
                    'frames': f,
                    'mean': self.persons / f if f else 0.0,
                    'max': self.max_persons,
                    'frames_with_persons': f - self.histogram.get(0, 0),
                    'histogram': {str(k): int(v) for k, v in sorted(self.histogram.items())},
                },
                'track_ids': {
                    'distinct': self.distinct_ids,
                    'highest': self.highest_id,
                    'recent': list(self.recent_ids),
                },
            }


class LogThrottle:
    """At most one message per ``period`` seconds for each kind of problem (a bounded set).

    Counts how many were held back in between (reported with the next message of that kind).
    """

    def __init__(self, period: float = 2.0, clock=time.monotonic):
        self._lock = threading.Lock()
        self.period = float(period)
        self._clock = clock
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = {}
        self.logged = 0
        self.suppressed = 0

    def allow(self, kind: str):
        """-> (log it now?, messages of this kind held back since the last one logged)."""
        with self._lock:
            now = self._clock()
            last = self._last.get(kind)
            if last is not None and now - last < self.period:
                self._held[kind] = self._held.get(kind, 0) + 1
                self.suppressed += 1
                return False, 0
            self._last[kind] = now
            self.logged += 1
            return True, self._held.pop(kind, 0)


class LossMonitor:
    """Frames that never reached the node, counted two ways.

    The rmw 'message lost' count (DDS sequence gaps, exact where the middleware reports it, as
    Fast DDS does) and, independently, an estimate from gaps in the header stamps: a gap of k
    typical frame periods (2 <= k <= ``max_gap_periods``) counts k - 1 missing frames. The period
    is the median of the recent intervals, gaps included (it follows a camera that changes rate);
    intervals under ``min_period_s`` (bursts) are ignored; a longer pause (a camera restart, a
    clock jump) is not a loss. Both counts are kept for the node's lifetime; :meth:`significant`
    judges the last ``recent`` frames, so a short, explained loss (a re-subscription) does not
    mark the rest of the run.
    """

    def __init__(
        self,
        window: int = 50,
        min_lost: int = 5,
        max_fraction: float = 0.01,
        recent: int = 250,
        min_period_s: float = 0.002,
        max_gap_periods: int = 10,
    ):
        self._lock = threading.Lock()
        self.transport_lost = 0
        self.gap_missing = 0
        self.n_received = 0
        self._periods = collections.deque(maxlen=window)
        self._last_stamp = None
        self._marks = collections.deque(maxlen=recent)  # (received, lost) after each frame
        self.min_lost = min_lost
        self.max_fraction = max_fraction
        self.min_period_s = min_period_s
        self.max_gap_periods = max_gap_periods

    def lost_by_transport(self, n: int) -> None:
        with self._lock:
            self.transport_lost += max(0, int(n))

    def received(self, stamp: float) -> None:
        with self._lock:
            self.n_received += 1
            self._count_gap(stamp)
            self._marks.append((self.n_received, self.lost))

    def _count_gap(self, stamp: float) -> None:
        last, self._last_stamp = self._last_stamp, stamp
        if last is None or stamp <= last:
            return
        dt = stamp - last
        if dt < self.min_period_s:
            return  # burst: neither a period sample nor a gap
        if len(self._periods) >= 10:
            period = float(np.median(self._periods))
            k = int(round(dt / period))
            if k > self.max_gap_periods:
                return  # a pause or a clock jump, not lost frames
            if k >= 2:
                self.gap_missing += k - 1
        self._periods.append(dt)

    def restart(self) -> None:
        """Forget the recent window and the stamp history (e.g. after re-subscribing)."""
        with self._lock:
            self._marks.clear()
            self._periods.clear()
            self._last_stamp = None

    @property
    def lost(self) -> int:
        return max(self.transport_lost, self.gap_missing)

    def significant(self) -> bool:
        """More than ``max_fraction`` (and at least ``min_lost``) of the recent frames are lost."""
        with self._lock:
            if len(self._marks) < 2:
                return False
            (r0, l0), (r1, l1) = self._marks[0], self._marks[-1]
            lost, got = max(0, l1 - l0), r1 - r0
            return lost >= self.min_lost and lost > self.max_fraction * (lost + got)

    def summary_text(self) -> str:
        lost = self.lost
        return (
            f'{lost} of {lost + self.n_received} image frames were lost before reaching the node '
            f'(middleware: {self.transport_lost}, stamp gaps: {self.gap_missing})'
        )
