"""Per-video ``.npz`` caches for the tools that compute detections/poses of a video once.

A cache holds named arrays and a JSON ``meta`` entry that always has the cache ``version``, the
``video`` path and its file ``size``. It stays valid for a video while the version, the size and
the other meta values the tool names (thresholds, settings) are unchanged; otherwise the tool
computes it again. Used by tools/bench_id_churn.py and tools/eval_smoothing.py (imported the way
the tools import each other: tools/ is on sys.path when one of them runs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np


def load_cache(path: Path) -> dict:
    """Load a cache: its arrays by name, and its decoded ``meta`` dict under ``'meta'``."""
    d = np.load(path)
    return {k: d[k] for k in d.files if k != 'meta'} | {'meta': json.loads(str(d['meta']))}


def valid_cache(path: Path, video: Path, version: int, **expect) -> Optional[dict]:
    """Return the cache at ``path`` if it was made from ``video`` as it is now, else ``None``.

    Valid means: the file exists, its meta has this ``version`` and the video's current file
    size, and ``meta[key] == expect[key]`` for each keyword given.
    """
    if not path.exists():
        return None
    c = load_cache(path)
    m = c['meta']
    if m.get('version') != version or m.get('size') != video.stat().st_size:
        return None
    if any(m.get(k) != v for k, v in expect.items()):
        return None
    return c


def write_cache(
    path: Path, video: Path, version: int, columns: Dict[str, List[np.ndarray]], meta: dict
) -> dict:
    """Write a cache for ``video`` to ``path`` (compressed) and return it as loaded.

    ``columns`` maps each array name to its per-frame pieces (concatenated on axis 0); ``meta``
    (JSON) gets ``version``, ``video`` and ``size`` in front of its own entries.
    """
    arrays = {k: np.concatenate(v) for k, v in columns.items()}
    meta = {'version': version, 'video': str(video), 'size': video.stat().st_size, **meta}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=json.dumps(meta), **arrays)
    return load_cache(path)
