"""MOTChallenge CSV files and ``seqinfo.ini``.

A MOT file has one row per box: ``frame, id, x, y, w, h, conf, x3d, y3d, z3d`` (frames and ids from
1, box top-left + size in pixels). Rows are kept as a float64 array ``(M, 10)``; shorter rows (e.g.
7 or 9 columns) are padded with ``-1``.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Dict, Iterable, Union

import numpy as np

from ..geometry import xyxy_to_xywh

PathLike = Union[str, Path]
N_COLS = 10


def read_mot(path: PathLike) -> np.ndarray:
    """Read a MOT CSV file -> ``(M, 10)`` float64, sorted by (frame, id).

    Empty file -> ``(0, 10)``.
    """
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        vals = [float(v) for v in line.replace(' ', '').split(',') if v != '']
        if len(vals) < 6:
            raise ValueError(f'{path}: MOT rows need at least 6 columns, got {line!r}')
        rows.append((vals + [-1.0] * N_COLS)[:N_COLS])
    if not rows:
        return np.zeros((0, N_COLS))
    a = np.asarray(rows, np.float64)
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def write_mot(path: PathLike, rows: np.ndarray) -> None:
    """Write ``(M, >=6)`` rows as MOT CSV.

    Frame and id as integers, box with 2 decimals, the rest as is.
    """
    a = np.asarray(rows, np.float64).reshape(
        -1, np.shape(rows)[-1] if np.ndim(rows) == 2 else N_COLS
    )
    if a.shape[1] < N_COLS:
        a = np.concatenate([a, np.full((len(a), N_COLS - a.shape[1]), -1.0)], 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        for r in a:
            f.write(
                f'{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},'
                f'{_num(r[6])},{_num(r[7])},{_num(r[8])},{_num(r[9])}\n'
            )


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f'{v:.4g}'


def make_rows(
    frame: int, ids: Iterable[int], boxes_xyxy: np.ndarray, conf: Union[float, np.ndarray] = 1.0
) -> np.ndarray:
    """Rows for one frame from track ids and ``(K, 4)`` x1 y1 x2 y2 boxes."""
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    ids = np.asarray(list(ids), np.float64)
    out = np.full((len(b), N_COLS), -1.0)
    out[:, 0] = frame
    out[:, 1] = ids
    out[:, 2:6] = xyxy_to_xywh(b)
    out[:, 6] = conf
    return out


def by_frame(rows: np.ndarray, n_frames: int = 0) -> Dict[int, np.ndarray]:
    """Split rows by frame: ``{frame: rows of that frame}``.

    For frames 1..max(n_frames, last frame), empty arrays included.
    """
    rows = np.asarray(rows, np.float64).reshape(-1, N_COLS)
    last = max(int(n_frames), int(rows[:, 0].max()) if len(rows) else 0)
    out = {f: np.zeros((0, N_COLS)) for f in range(1, last + 1)}
    if len(rows):
        fr = rows[:, 0].astype(np.int64)
        order = np.argsort(fr, kind='stable')
        splits = np.flatnonzero(np.diff(fr[order])) + 1
        for chunk in np.split(order, splits):
            out[int(fr[chunk[0]])] = rows[chunk]
    return out


def evaluated_gt(rows: np.ndarray) -> np.ndarray:
    """Select the ground-truth rows MOTChallenge 2D evaluates.

    The rows with ``conf != 0`` (0 marks ignored boxes). In MOT16/17 the rows of every class but
    1 (pedestrian; class id in the 8th column) have conf 0 as well (true of the shared MOT17
    sequences), so only pedestrians remain; the class column itself is not read. In MOT15 (TUD)
    that column is a world coordinate or -1 and every row has conf 1, so every row is kept there.
    """
    rows = np.asarray(rows, np.float64).reshape(-1, N_COLS)
    keep = rows[:, 6] != 0
    return rows[keep]


def read_seqinfo(path: PathLike) -> Dict[str, object]:
    """Read ``seqinfo.ini`` (a file, or the sequence folder holding it).

    Returns a dict with ``name``, ``seq_length``, and, where present, ``frame_rate``, ``width``,
    ``height`` (ints) plus every raw key lower-cased.
    """
    p = Path(path)
    if p.is_dir():
        p = p / 'seqinfo.ini'
    cp = configparser.ConfigParser()
    cp.read(p)
    sec = cp['Sequence']
    raw = {k.lower(): v for k, v in sec.items()}
    out: Dict[str, object] = dict(raw)
    out['name'] = raw.get('name', p.parent.name)
    for key, name in (
        ('seqlength', 'seq_length'),
        ('framerate', 'frame_rate'),
        ('imwidth', 'width'),
        ('imheight', 'height'),
    ):
        if key in raw:
            out[name] = int(float(raw[key]))
    return out
