"""Rolling per-stage timing statistics (ROS-free; used by the node, diagnostics and the demo)."""
from __future__ import annotations

import collections
import threading
from typing import Dict

import numpy as np


class StageStats:
    def __init__(self, maxlen: int = 100000):
        self._lock = threading.Lock()
        self._ms: Dict[str, collections.deque] = {}
        self.maxlen = maxlen
        self.counters = collections.Counter()

    def add(self, timings_ms: Dict[str, float]) -> None:
        with self._lock:
            for k, v in timings_ms.items():
                self._ms.setdefault(k, collections.deque(maxlen=self.maxlen)).append(float(v))

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def summary(self, last: int = 0) -> Dict[str, Dict[str, float]]:
        """{stage: {mean, p50, p90, p99, n}} over all (or the last N) samples."""
        with self._lock:
            out = {}
            for k, d in self._ms.items():
                a = np.asarray(d, np.float64)
                if last:
                    a = a[-last:]
                if a.size:
                    out[k] = {'mean': float(a.mean()), 'p50': float(np.percentile(a, 50)),
                              'p90': float(np.percentile(a, 90)), 'p99': float(np.percentile(a, 99)),
                              'n': int(a.size)}
            return out


class LossMonitor:
    """Frames that never reached the node: the rmw 'message lost' count (DDS sequence gaps, exact where the
    middleware reports it) and, independently, an estimate from gaps in the header stamps (a gap of k
    median frame periods counts k - 1 missing frames; a camera that pauses also counts here)."""

    def __init__(self, window: int = 50, min_lost: int = 5, max_fraction: float = 0.01):
        self._lock = threading.Lock()
        self.transport_lost = 0
        self.gap_missing = 0
        self.n_received = 0
        self._periods = collections.deque(maxlen=window)
        self._last_stamp = None
        self.min_lost = min_lost
        self.max_fraction = max_fraction

    def lost_by_transport(self, n: int) -> None:
        with self._lock:
            self.transport_lost += max(0, int(n))

    def received(self, stamp: float) -> None:
        with self._lock:
            self.n_received += 1
            last, self._last_stamp = self._last_stamp, stamp
            if last is None or stamp <= last:
                return
            dt = stamp - last
            if len(self._periods) >= 10:
                period = float(np.median(self._periods))
                k = int(round(dt / period)) if period > 0 else 1
                if k >= 2:
                    self.gap_missing += k - 1
                    return            # a gap is not a period sample
            self._periods.append(dt)

    @property
    def lost(self) -> int:
        return max(self.transport_lost, self.gap_missing)

    def significant(self) -> bool:
        lost = self.lost
        return lost >= self.min_lost and lost > self.max_fraction * (lost + self.n_received)

    def summary_text(self) -> str:
        lost = self.lost
        return (f'{lost} of {lost + self.n_received} image frames were lost before reaching the node '
                f'(middleware: {self.transport_lost}, stamp gaps: {self.gap_missing})')
