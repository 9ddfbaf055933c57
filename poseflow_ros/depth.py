"""People in 3D.

Keypoints, position and velocity per track from a registered depth image (or, without depth, from
the pose model's metric world landmarks placed through the camera). ROS-free.

    stage = DepthStage(DepthConfig())
    p3d = stage.process(result.tracks, camera, depth_m, world=result.poses.keypoints_3d, stamp=t,
                        image_hw=image.shape[:2])

Everything is in the colour image's optical frame (x right, y down, z forward, metres). ``depth``
is the z of the surface at each pixel (REP 118), registered to the colour image; at another
resolution of the same aspect ratio its pixels are found by scaling the colour pixel coordinates.

Per keypoint the depth is the median of the valid samples of a window around it whose size follows
the person's box height; a sample is valid inside ``[min_range, max_range]`` and within
``outlier_distance`` of the person's own depth (the robust median of the central part of the box),
so background seen past an arm and a person in front are not taken for the keypoint. The pixel is
undistorted with D and back-projected through K. Keypoints scoring below ``keypoint_threshold`` in
2D, outside the image or without valid depth get no 3D (NaN, score 0). The person's position is the
torso centre (shoulders and hips with 3D), else the box centre at the person's depth; the velocity
is the least-squares slope of the positions of the last ``velocity_window`` seconds of that track.

Monocular placement (camera, no depth for that person): the metric, hip-centred world landmarks of
the pose model (``Poses.keypoints_3d``, axes already camera-aligned) are moved by the translation
whose projection best fits the 2D keypoints (weighted least squares, refined to the reprojection
error), or by a full PnP pose (``monocular_method: pnp``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .camera import CameraModel
from .coco import KEYPOINT_SCORE_VISIBLE
from .settings import check_fields, check_values, setting

SOURCE_NONE, SOURCE_DEPTH, SOURCE_MONOCULAR = 0, 1, 2  # = TrackedPose.SOURCE_3D_*
TORSO = np.array([5, 6, 11, 12])  # shoulders, hips (COCO)
_GRID = 5  # samples per side of a keypoint window
_BOX_GRID = 12  # samples per side of the central box part
_MIN_SAMPLES = 3  # valid window samples for a keypoint depth
_OFF = np.linspace(-1.0, 1.0, _GRID)
_OX = np.tile(_OFF, _GRID)  # window offsets in units of its half-size
_OY = np.repeat(_OFF, _GRID)
_HIST = 64  # positions kept per track


@dataclass
class DepthConfig:
    """Settings of the 3D stage (ROS parameters ``depth.<name>``; all live)."""

    depth_scale: float = setting(
        0.0,
        "Metres per unit of the raw depth image values; 0 = the encoding's own (16UC1/mono16 "
        'millimetres, 32FC1 metres).',
        range=(0.0, 1000.0),
        live=True,
    )
    min_range: float = setting(
        0.2,
        'm: depth values below this are ignored (sensor minimum, robot parts in view).',
        range=(0.0, 100.0),
        live=True,
    )
    max_range: float = setting(
        10.0,
        'm: depth values above this are ignored (and monocular placements farther than this '
        'dropped).',
        range=(0.0, 1000.0),
        live=True,
    )
    keypoint_threshold: float = setting(
        KEYPOINT_SCORE_VISIBLE,
        'Keypoints scoring below this in 2D get no 3D (keypoints_3d NaN, score 0).',
        range=(0.0, 1.0),
        live=True,
    )
    window_fraction: float = setting(
        0.02,
        'Half-size of the depth window around each keypoint as a fraction of the box height '
        '(a person 400 px tall: 8 px, i.e. a 17 x 17 px window).',
        range=(0.0, 0.5),
        live=True,
    )
    window_max_px: int = setting(
        20,
        'Largest half-size of a keypoint depth window, colour pixels.',
        range=(1, 200),
        live=True,
    )
    outlier_distance: float = setting(
        0.5,
        "m: window samples farther than this from the person's median depth are not the person "
        '(background, someone in front) and are ignored.',
        range=(0.01, 100.0),
        live=True,
    )
    velocity_window: float = setting(
        0.5,
        's: the velocity is the least-squares slope of the positions of this last stretch of '
        'the track.',
        range=(0.01, 60.0),
        live=True,
    )
    monocular: bool = setting(
        True,
        "With a camera but no depth for a person, place the pose model's metric 3D skeleton in "
        "the camera frame by fitting its projection to the 2D keypoints (source 'monocular').",
        live=True,
    )
    monocular_method: str = setting(
        'translation',
        "Monocular fit: 'translation' (least squares, the model's axes are already camera-"
        "aligned) or 'pnp' (OpenCV solvePnP, rotation too).",
        choices=('translation', 'pnp'),
        live=True,
    )
    monocular_height: float = setting(
        1.70,
        "m: monocular skeletons are scaled to a person this tall (by their limb and torso bone "
        "lengths; BlazePose's own skeletons of adults measured 8-17 % smaller than that on the "
        "shared RGB-D data, placing people as much too close); 0 = the model's scale.",
        range=(0.0, 3.0),
        live=True,
    )
    monocular_score: float = setting(
        0.5,
        'Monocular keypoint 3D scores are the 2D scores times this (less trusted than depth).',
        range=(0.0, 1.0),
        live=True,
    )

    def __post_init__(self):
        check_fields(self)
        if self.max_range <= self.min_range:
            raise ValueError(
                f'depth.max_range ({self.max_range}) must be above depth.min_range '
                f'({self.min_range})'
            )

    @classmethod
    def from_dict(cls, d: dict) -> DepthConfig:
        """Build from a (possibly partial) dict; unknown keys and bad types/ranges raise."""
        return cls(**check_values(cls, dict(d or {}), 'depth'))


@dataclass
class Poses3D:
    """3D of the reported tracks (same order as ``FrameResult.tracks``), optical frame, metres."""

    keypoints: np.ndarray  # (T,17,3) float32, NaN = no 3D
    scores: np.ndarray  # (T,17) float32, 0 = no 3D
    positions: np.ndarray  # (T,3) float32, NaN = none
    velocities: np.ndarray  # (T,3) float32 m/s, NaN = unknown
    source: np.ndarray  # (T,) uint8 SOURCE_NONE / SOURCE_DEPTH / SOURCE_MONOCULAR
    problem: str = ''  # why depth or camera could not be used in this frame ('' = fine)

    def __len__(self):
        return len(self.source)

    @classmethod
    def empty(cls, n: int = 0, problem: str = '') -> Poses3D:
        """``n`` tracks without any 3D."""
        return cls(
            np.full((n, 17, 3), np.nan, np.float32),
            np.zeros((n, 17), np.float32),
            np.full((n, 3), np.nan, np.float32),
            np.full((n, 3), np.nan, np.float32),
            np.zeros((n,), np.uint8),
            problem,
        )


def depth_to_metres(array: np.ndarray, encoding: str, depth_scale: float = 0.0) -> np.ndarray:
    """Return a depth image as float32 H x W metres, NaN where invalid (0, NaN, inf, negative).

    '16UC1'/'mono16' are millimetres, '32FC1' metres; ``depth_scale > 0`` overrides (metres per
    unit, e.g. 0.000125 for a sensor in 1/8 mm). ValueError for other encodings or shapes.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2:
        raise ValueError(f'depth image must be H x W (one channel), got shape {a.shape}')
    enc = (encoding or '').strip().upper()
    if enc in ('16UC1', 'MONO16'):
        if a.dtype != np.uint16:
            raise ValueError(f'{encoding} depth must be uint16, got {a.dtype}')
        scale = depth_scale if depth_scale > 0 else 0.001
    elif enc == '32FC1':
        if a.dtype != np.float32:
            raise ValueError(f'32FC1 depth must be float32, got {a.dtype}')
        scale = depth_scale if depth_scale > 0 else 1.0
    else:
        raise ValueError(
            f"depth encoding {encoding!r} is not supported: use 16UC1/mono16 (mm) or 32FC1 (m), "
            'or set depth_scale for other units'
        )
    m = a.astype(np.float32) * np.float32(scale)
    m[~np.isfinite(m) | (m <= 0)] = np.nan
    return m


def _clamp(i: np.ndarray, hi: int) -> np.ndarray:
    """Limit indices to [0, hi] in place (cheaper than np.clip, which also allocates)."""
    np.maximum(i, 0, out=i)
    np.minimum(i, hi, out=i)
    return i


def _masked_median(vals: np.ndarray, valid: np.ndarray):
    """Median along the last axis over the ``valid`` entries (NaN where none) and their number."""
    v = np.where(valid, vals, np.inf)
    v.sort(axis=-1)
    n = valid.sum(-1)
    lo = np.take_along_axis(v, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(v, np.minimum(n // 2, v.shape[-1] - 1)[..., None], -1)[..., 0]
    med = 0.5 * (lo + hi)
    med[n == 0] = np.nan
    return med, n


def _torso_centres(xyz: np.ndarray, has: np.ndarray) -> np.ndarray:
    """(R,17,3), (R,17) bool -> (R,3) midpoint of the shoulder and hip centres.

    Either centre alone when only one pair has 3D; NaN without any.
    """
    parts, counts = [], []
    for pair in ((5, 6), (11, 12)):
        h = has[:, pair]
        n = h.sum(1)
        parts.append(np.where(h[..., None], xyz[:, pair], 0.0).sum(1) / np.maximum(n, 1)[:, None])
        counts.append(n > 0)
    c = np.stack(counts, 1).astype(np.float64)  # (R,2)
    tot = c.sum(1)
    centre = (parts[0] * c[:, :1] + parts[1] * c[:, 1:]) / np.maximum(tot, 1)[:, None]
    centre[tot == 0] = np.nan
    return centre


def fit_translation(
    world: np.ndarray, xn: np.ndarray, w: np.ndarray, iters: int = 2
) -> np.ndarray:
    """Return translations t (R,3) so that the projections of ``world + t`` fit the image points.

    ``world`` (R,17,3), normalised image points ``xn`` (R,17,2), weights ``w`` (R,17) (also
    unbatched: (17,3), (17,2), (17,) -> (3,)): weighted linear least squares on
    x (Wz + tz) = Wx + tx (and y), then reweighted by 1/z so the residual is the reprojection
    error. NaN where fewer than 2 points weigh or t ends behind the camera.
    """
    single = np.ndim(world) == 2
    W = np.asarray(world, np.float64).reshape(-1, 17, 3)
    x = np.asarray(xn, np.float64).reshape(-1, 17, 2)
    wt = np.asarray(w, np.float64).reshape(-1, 17)
    ok = (wt > 0) & np.all(np.isfinite(W), -1) & np.all(np.isfinite(x), -1)
    W, x, wt = (
        np.where(ok[..., None], W, 0.0),
        np.where(ok[..., None], x, 0.0),
        np.where(ok, wt, 0.0),
    )
    u, v = x[..., 0], x[..., 1]
    b1, b2 = u * W[..., 2] - W[..., 0], v * W[..., 2] - W[..., 1]
    t = np.full((len(W), 3), np.nan)
    scale = np.ones_like(wt)
    good = ok.sum(1) >= 2
    for _ in range(iters):
        s2 = (wt * scale) ** 2
        S, Su, Sv, Suv2 = (
            s2.sum(1),
            (s2 * u).sum(1),
            (s2 * v).sum(1),
            (s2 * (u * u + v * v)).sum(1),
        )
        M = np.zeros((len(W), 3, 3))
        M[:, 0, 0] = M[:, 1, 1] = S
        M[:, 0, 2] = M[:, 2, 0] = -Su
        M[:, 1, 2] = M[:, 2, 1] = -Sv
        M[:, 2, 2] = Suv2
        rhs = np.stack([(s2 * b1).sum(1), (s2 * b2).sum(1), -(s2 * (u * b1 + v * b2)).sum(1)], 1)
        det = np.linalg.det(M)
        solvable = good & (np.abs(det) > 1e-12 * np.maximum(S, 1e-12) ** 3)
        M[~solvable] = np.eye(3)
        t = np.where(solvable[:, None], np.linalg.solve(M, rhs[..., None])[..., 0], np.nan)
        z = W[..., 2] + np.where(solvable, t[:, 2], 1.0)[:, None]
        scale = np.where(ok, 1.0 / np.maximum(z, 1e-3), 0.0)
    t[~(np.isfinite(t).all(1) & (t[:, 2] > 0))] = np.nan
    return t[0] if single else t


# bone (a, b) and its length as a fraction of standing height (Drillis & Contini 1966 segment
# table)
_BONES = np.array(
    [(5, 7), (6, 8), (7, 9), (8, 10), (11, 13), (12, 14), (13, 15), (14, 16), (5, 11), (6, 12)]
)
_BONE_FRACTION = np.array([0.186, 0.186, 0.146, 0.146, 0.245, 0.245, 0.246, 0.246, 0.288, 0.288])


def height_scale(world: np.ndarray, visible: np.ndarray, height: float) -> np.ndarray:
    """(R,) factors that scale the model skeletons (R,17,3) to a person ``height`` metres tall.

    From the lengths of the limb and torso bones whose ends are ``visible`` (R,17) (all bones where
    none is).
    """
    W = np.asarray(world, np.float64).reshape(-1, 17, 3)
    length = np.linalg.norm(W[:, _BONES[:, 0]] - W[:, _BONES[:, 1]], axis=-1)  # (R,10)
    vis = visible[:, _BONES[:, 0]] & visible[:, _BONES[:, 1]] & np.isfinite(length)
    vis = np.where(vis.any(1, keepdims=True), vis, np.isfinite(length))
    model = np.where(vis, length, 0.0).sum(1)
    want = np.where(vis, _BONE_FRACTION * height, 0.0).sum(1)
    return np.where(model > 1e-6, want / np.maximum(model, 1e-6), 1.0)


# a camera info or depth image of another resolution is used when its aspect ratio is within this
# fraction of the colour image's (then its pixels are found by scaling)
ASPECT_TOLERANCE = 0.02


def _same_aspect(w1, h1, w: int, h: int) -> bool:
    """Tell whether w1 x h1 has the w x h image's aspect ratio (within ASPECT_TOLERANCE)."""
    return abs(w1 / h1 - w / h) <= ASPECT_TOLERANCE * (w / h)


class DepthStage:
    """Turns tracks (+ depth or world landmarks + camera) into :class:`Poses3D`.

    Keeps the short position history per track id that the velocity needs (bounded: ended and
    unseen tracks are forgotten).
    """

    def __init__(self, config: DepthConfig | None = None):
        self.config = config or DepthConfig()
        self._hist: dict[int, list] = {}  # track id -> [stamps, positions, count]
        self.problem = ''

    def set_config(self, config: DepthConfig) -> None:
        self.config = config

    def reset(self) -> None:
        self._hist.clear()

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop the history of tracks that ended."""
        for i in track_ids:
            self._hist.pop(int(i), None)

    # ------------------------------------------------------------------ main entry
    def process(
        self,
        tracks: Sequence,
        camera: CameraModel | None,
        depth: np.ndarray | None,
        world: np.ndarray | None = None,
        stamp: float = 0.0,
        image_hw=None,
    ) -> Poses3D:
        """3D for every track (aligned with ``tracks``).

        ``depth``: float32 H x W metres (NaN invalid) or None; ``world``: (N,17,3) world landmarks
        per detection (indexed by ``detection_index``) or None; ``image_hw``: the colour image size
        (default: the camera's).
        """
        cfg = self.config
        out = Poses3D.empty(len(tracks))
        problems: list[str] = []
        cam = self._camera(camera, image_hw, problems)
        if depth is not None and cam is None and not problems:
            problems.append('depth without camera intrinsics')
        rows = [
            i for i, t in enumerate(tracks) if t.keypoints is not None and t.time_since_update == 0
        ]
        if cam is not None and rows:
            h, w = (
                (cam.height, cam.width)
                if image_hw is None
                else (int(image_hw[0]), int(image_hw[1]))
            )
            kp = np.stack([np.asarray(tracks[i].keypoints, np.float64) for i in rows])
            sc = np.stack([np.asarray(tracks[i].keypoint_scores, np.float64) for i in rows])
            boxes = np.stack([np.asarray(tracks[i].box, np.float64) for i in rows])
            inside = (
                np.all(np.isfinite(kp), -1)
                & (kp[..., 0] >= 0)
                & (kp[..., 1] >= 0)
                & (kp[..., 0] <= w - 1)
                & (kp[..., 1] <= h - 1)
            )
            use = inside & (sc >= cfg.keypoint_threshold)
            R = len(rows)
            cxy = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
            both = cam.undistort(np.concatenate([kp.reshape(-1, 2), cxy]))  # one OpenCV call
            xn, cn = both[: R * 17].reshape(R, 17, 2), both[R * 17 :]
            dep = self._check_depth(depth, h, w, problems)
            done = np.zeros(len(rows), bool)
            if dep is not None:
                done = self._from_depth(dep, h, w, kp, sc, use, xn, boxes, cn, rows, out)
            if cfg.monocular and world is not None:
                self._monocular(tracks, rows, done, world, cam, kp, sc, use, xn, out)
        self._velocities(tracks, stamp, out)
        self.problem = out.problem = '; '.join(problems)
        return out

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _camera(camera, image_hw, problems) -> CameraModel | None:
        if camera is None:
            return None
        why = camera.problem()
        if why:
            problems.append(why)
            return None
        if image_hw is not None and (camera.height, camera.width) != tuple(
            int(v) for v in image_hw
        ):
            h, w = int(image_hw[0]), int(image_hw[1])
            if not _same_aspect(camera.width, camera.height, w, h):
                problems.append(
                    f'camera info is for {camera.width}x{camera.height}, the image is {w}x{h} '
                    '(another aspect ratio)'
                )
                return None
            camera = camera.scaled_to(w, h)
        return camera

    @staticmethod
    def _check_depth(depth, h, w, problems) -> np.ndarray | None:
        if depth is None:
            return None
        d = np.asarray(depth)
        if d.ndim != 2 or d.dtype != np.float32:
            problems.append(f'depth must be float32 H x W metres, got {d.dtype} {d.shape}')
            return None
        dh, dw = d.shape
        if not _same_aspect(dw, dh, w, h):
            problems.append(
                f'depth {dw}x{dh} does not match the {w}x{h} image (another aspect ratio)'
            )
            return None
        return d

    # ------------------------------------------------------------------ depth
    def _from_depth(self, dep, h, w, kp, sc, use, xn, boxes, cn, rows, out) -> np.ndarray:
        cfg = self.config
        dh, dw = dep.shape
        sx, sy = dw / float(w), dh / float(h)
        R = len(rows)
        # the person's own depth: robust median of the central part of the box
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        g = (np.arange(_BOX_GRID) + 0.5) / _BOX_GRID
        bx = boxes[:, 0, None] + bw[:, None] * (0.3 + 0.4 * g)  # central 40 % in x
        by = boxes[:, 1, None] + bh[:, None] * (0.15 + 0.4 * g)  # 15-55 % in y: the torso
        ix = _clamp((bx * sx).astype(np.int64), dw - 1)
        iy = _clamp((by * sy).astype(np.int64), dh - 1)
        samples = dep[iy[:, :, None], ix[:, None, :]].reshape(R, -1)
        ok = np.isfinite(samples) & (samples >= cfg.min_range) & (samples <= cfg.max_range)
        med, _ = _masked_median(samples, ok)
        # second pass around the first median: a background strip or a limb in front does not pull
        # it
        ok2 = ok & (np.abs(samples - med[:, None]) <= cfg.outlier_distance)
        med2, n2 = _masked_median(samples, ok2)
        person = np.where(n2 > 0, med2, med)

        # keypoint windows, same number of samples whatever their size
        r = np.clip(cfg.window_fraction * bh, 1.0, float(cfg.window_max_px))
        px = kp[..., 0:1] + r[:, None, None] * _OX
        py = kp[..., 1:2] + r[:, None, None] * _OY
        jx = _clamp(np.rint(px * sx).astype(np.int64), dw - 1)
        jy = _clamp(np.rint(py * sy).astype(np.int64), dh - 1)
        d = dep[jy, jx]  # (R,17,G*G)
        good = (
            np.isfinite(d)
            & (d >= cfg.min_range)
            & (d <= cfg.max_range)
            & (np.abs(d - person[:, None, None]) <= cfg.outlier_distance)
            & use[..., None]
        )
        z, n = _masked_median(d, good)
        has = (n >= _MIN_SAMPLES) & use
        z = np.where(has, z, np.nan)
        xyz = np.concatenate([xn * z[..., None], z[..., None]], -1)
        # half the window agrees: full score
        consistency = np.minimum(1.0, n / (0.5 * _GRID * _GRID))
        s3 = np.where(has, sc * consistency, 0.0)

        centre = _torso_centres(xyz, has)
        anchors = has[:, TORSO].any(1)
        box_ok = np.isfinite(person)
        box_pos = np.concatenate([cn * person[:, None], person[:, None]], 1)
        done = anchors | box_ok
        for j, i in enumerate(rows):
            if not (done[j] or has[j].any()):
                continue
            out.keypoints[i] = xyz[j]
            out.scores[i] = s3[j]
            out.source[i] = SOURCE_DEPTH
            out.positions[i] = centre[j] if anchors[j] else (box_pos[j] if box_ok[j] else np.nan)
        return done

    # ------------------------------------------------------------------ monocular
    def _monocular(self, tracks, rows, done, world, cam, kp, sc, use, xn, out) -> None:
        cfg = self.config
        world = np.asarray(world, np.float64).reshape(-1, 17, 3)
        det = np.array([tracks[i].detection_index for i in rows])
        cand = np.flatnonzero(~done & (det >= 0) & (det < len(world)))
        if not len(cand):
            return
        W = world[det[cand]]
        ok = use[cand] & np.all(np.isfinite(W), -1)
        cand, W, ok = cand[ok.sum(1) >= 4], W[ok.sum(1) >= 4], ok[ok.sum(1) >= 4]
        if not len(cand):
            return
        if cfg.monocular_height > 0:
            W = W * height_scale(W, ok, cfg.monocular_height)[:, None, None]
        if cfg.monocular_method == 'pnp':
            xyz = np.stack(
                [_place_pnp(W[k], kp[j], ok[k], sc[j], xn[j], cam) for k, j in enumerate(cand)]
            )
        else:
            xyz = W + fit_translation(W, xn[cand], np.where(ok, sc[cand], 0.0))[:, None, :]
        zmed = np.median(xyz[..., 2], 1)
        placed = np.isfinite(xyz).all((1, 2)) & (zmed >= cfg.min_range) & (zmed <= cfg.max_range)
        centres = _torso_centres(xyz, np.ones(xyz.shape[:2], bool))
        for k in np.flatnonzero(placed):
            j = cand[k]
            i = rows[j]
            out.keypoints[i] = np.where(use[j][:, None], xyz[k], np.nan)
            out.scores[i] = np.where(use[j], sc[j] * cfg.monocular_score, 0.0)
            out.source[i] = SOURCE_MONOCULAR
            out.positions[i] = centres[k]

    # ------------------------------------------------------------------ velocity
    def _velocities(self, tracks, stamp, out) -> None:
        win = self.config.velocity_window
        stamp = float(stamp)
        seen = set()
        rows, spans = [], []
        for i, t in enumerate(tracks):
            tid = int(t.track_id)
            seen.add(tid)
            h = self._hist.get(tid)
            if h is not None and h[2] and stamp <= h[0][h[2] - 1]:
                h[2] = 0  # time went back (bag loop, tracker reset) or the same frame
            p = out.positions[i]
            if not np.isfinite(p).all():
                continue
            if h is None:
                h = self._hist[tid] = [np.empty(_HIST), np.empty((_HIST, 3)), 0]
            ts, ps, n = h
            if n == _HIST:  # full: keep the newer half (bounded memory)
                ts[: _HIST // 2], ps[: _HIST // 2] = ts[_HIST // 2 :], ps[_HIST // 2 :]
                n = _HIST // 2
            ts[n], ps[n] = stamp, p
            h[2] = n = n + 1
            first = int(np.searchsorted(ts[:n], stamp - win))
            if n - first >= 2:
                rows.append(i)
                spans.append((h, first, n))
        if rows:
            L = max(n - first for _, first, n in spans)
            tt = np.zeros((len(rows), L))
            pp = np.zeros((len(rows), L, 3))
            m = np.zeros((len(rows), L))
            for k, (h, first, n) in enumerate(spans):
                c = n - first
                tt[k, :c], pp[k, :c], m[k, :c] = h[0][first:n] - stamp, h[1][first:n], 1.0
            cnt = m.sum(1)
            dt = (tt - ((tt * m).sum(1) / cnt)[:, None]) * m
            den = (dt * dt).sum(1)
            dp = pp - ((pp * m[..., None]).sum(1) / cnt[:, None])[:, None, :]
            v = (dt[..., None] * dp).sum(1) / np.maximum(den, 1e-12)[:, None]
            v[den <= 1e-9] = np.nan
            out.velocities[rows] = v
        for tid in [
            k
            for k, h in self._hist.items()
            if k not in seen and (not h[2] or h[0][h[2] - 1] < stamp - win)
        ]:
            del self._hist[tid]


def _place_pnp(W, px, ok, sc, xn, cam) -> np.ndarray:
    """Rotation + translation by solvePnP (iterative, started from the translation fit)."""
    t0 = fit_translation(W, xn, np.where(ok, sc, 0.0))
    if not np.isfinite(t0).all():
        return np.full_like(W, np.nan)
    obj = np.ascontiguousarray(W[ok], np.float64).reshape(-1, 1, 3)
    img = np.ascontiguousarray(px[ok], np.float64).reshape(-1, 1, 2)
    D = cam.D if cam.distortion_model != 'equidistant' else np.zeros(5)
    rvec, tvec = np.zeros((3, 1)), t0.reshape(3, 1).copy()
    try:
        good, rvec, tvec = cv2.solvePnP(
            obj, img, cam.K, D, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
        )
    except cv2.error:
        good = False
    if not good:
        return W + t0
    R = cv2.Rodrigues(rvec)[0]
    return W @ R.T + tvec.reshape(1, 3)
