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
