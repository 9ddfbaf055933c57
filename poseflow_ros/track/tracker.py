"""Multi-person tracker: DeepSORT + ByteTrack + PoseFlow-style pose similarity.

DeepSORT: Kalman + gated appearance cascade; ByteTrack: low-score second association.

Per ``update``:

1. all tracks are predicted one frame ahead (Kalman, constant velocity; with ``freeze_lost_size``
   the aspect and height velocities of lost tracks are zeroed first, as ByteTrack does, so a box
   does not keep growing or shrinking while unseen; the process noise of lost tracks is multiplied
   by ``lost_noise_scale``, so the gate widens quickly while a person is unseen (they may turn or
   stop) although a tracked person's box is smoothed strongly);
2. **main association** – high-score detections (``score >= high_score_threshold``) vs confirmed
   and lost tracks: fused cost = weighted mean of ``1 - IoU``, the smallest cosine distance to the
   track's appearance gallery and ``1 - OKS`` (track pose moved with the predicted box), over the
   cues present; plus, with ``motion_weight > 0``, the gated Mahalanobis distance / gate; pairs
   outside the Mahalanobis gate or with appearance distance ``> max_cosine_distance`` are excluded;
   Hungarian assignment level by level in time since update (matching cascade);
3. **IoU association** – remaining high-score detections vs tentative tracks and tracks matched in
   the previous frame, ``1 - IoU <= max_iou_distance``;
4. **low-score association** – detections with ``low <= score < high`` vs confirmed tracks matched
   in the previous frame and still unmatched, ``1 - IoU <= low_score_max_iou_distance``. These
   matches update the Kalman state and pose, not the appearance gallery (low scores are mostly
   occluded people);
5. lifecycle – matched tracks: ``hits += 1``, tentative -> confirmed at ``n_init`` hits, lost ->
   confirmed; unmatched: tentative -> deleted, confirmed -> lost, lost longer than ``max_age`` ->
   deleted; unmatched high-score detections start tentative tracks (confirmed at once when
   ``n_init == 1``).

**Image border** (only when ``TrackerInput.image_size`` is given): a lost track whose predicted box
lies outside the image by at least ``border_exit_fraction`` of its area has left; it is deleted
once unmatched for more than ``border_max_age`` frames. A lost track whose predicted box is within
``border_margin`` of an edge is matched in the main association only to boxes whose height agrees
within ``border_size_ratio`` and, when both poses have enough keypoints, whose pose looks alike
(OKS of the poses scaled to one height and centred,
:func:`~poseflow_ros.track.matching.pose_shape_oks`, at least ``border_min_oks``; appearance, when
given, is checked as everywhere): whoever enters where a person left is not given the old id on IoU
alone.

**Keypoint smoothing** (``smooth_keypoints``): each track's reported keypoints go through a One
Euro filter (:mod:`poseflow_ros.track.smoothing`) per keypoint and coordinate, with the time step
from ``TrackerInput.stamp`` (else ``1 / smoothing_rate``) and the speed divided by the person's box
size (``(w + h) / 2`` of the Kalman box). A keypoint scoring below ``smoothing_keypoint_threshold``
is reported raw and restarts its filter; so does the whole pose after a gap longer than
``coast_frames``. The raw pose is kept in ``TrackOutput.keypoints_raw`` and is what the pose cost
uses.

Track ids start at 1, increase monotonically and are never reused (not even after
:meth:`Tracker.reset`).

Output: confirmed tracks matched in this frame always (box = the matched detection, or with
``output_filtered_box`` the Kalman-filtered box); lost tracks only with ``output_lost``, or for the
first ``coast_frames`` frames of a gap (box = Kalman prediction, keypoints = last (smoothed and
raw) pose moved with it, ``detection_index = -1``); tentative tracks only with
``output_tentative``. The default reports measurement-backed persons plus gaps of at most
``coast_frames`` (a detector blink of ~0.1 s), so a robot never acts on a long-lived ghost;
identities are still stable across gaps up to ``max_age`` because lost tracks are kept internally
and resume their id. :attr:`Tracker.ended_ids` lists the ids, among those ever reported, deleted in
the last update, so consumers can drop what they keep per id (the pipeline's 3D stage forgets their
history; the node's markers need no list: it deletes every marker of a track that is no longer
reported, ended or not).

State is kept as stacked arrays (one row per track, rows in id order), so every step is vectorised
over tracks; the only Python loops are over cascade levels and over the reported tracks.
"""

from __future__ import annotations

import time
from typing import List, Optional

import numpy as np

from ..geometry import iou_matrix, outside_fraction, xyah_to_xyxy, xyxy_to_xyah
from ..types import TrackerInput, TrackOutput, TrackState
from .config import TrackerConfig
from .kalman import KalmanFilter
from .matching import (
    cosine_gallery_distance,
    fuse_costs,
    linear_assignment,
    matching_cascade,
    move_keypoints,
    oks_pairs,
    pose_shape_oks,
)
from .smoothing import one_euro_step

_TENT, _CONF, _LOST = int(TrackState.TENTATIVE), int(TrackState.CONFIRMED), int(TrackState.LOST)
_STATES = {int(s): s for s in TrackState}


class Tracker:
    """Multi-person tracker. ``update`` once per frame (also for frames with no detections)."""

    def __init__(self, config: Optional[TrackerConfig] = None):
        self.config = config if config is not None else TrackerConfig()
        self.config.validate()
        c = self.config
        self.kf = KalmanFilter(
            c.std_weight_position,
            c.std_weight_velocity,
            std_weight_measurement=c.std_weight_measurement,
        )
        self._gate = c.effective_gating_threshold
        self._budget = 1 if c.feature_ema > 0 else int(c.gallery_budget)
        self._next_id = 1
        self.frame_count = 0
        self.ended_ids: List[int] = []
        # time of the last update's association stages (costs + assignment)
        self.association_ms = 0.0
        # frame time of the last update (s), for the keypoint filter
        self._time: Optional[float] = None
        self._clear()

    def set_config(self, config: TrackerConfig) -> None:
        """Apply new settings to the running tracker (tracks and ids are kept).

        The gallery layout (``feature_ema`` on/off, ``gallery_budget``) cannot change while tracks
        exist.
        """
        config.validate()
        budget = 1 if config.feature_ema > 0 else int(config.gallery_budget)
        if budget != self._budget and len(self.ids):
            raise ValueError(
                'feature_ema/gallery_budget change the appearance gallery layout; '
                'they apply after a reset (lifecycle cleanup -> configure)'
            )
        self.config = config
        self.kf = KalmanFilter(
            config.std_weight_position,
            config.std_weight_velocity,
            std_weight_measurement=config.std_weight_measurement,
        )
        self._gate = config.effective_gating_threshold
        self._budget = budget

    # ------------------------------------------------------------------ state arrays
    def _clear(self) -> None:
        self.ids = np.zeros(0, np.int64)
        self.state = np.zeros(0, np.int8)
        self.age = np.zeros(0, np.int32)
        self.hits = np.zeros(0, np.int32)
        self.time_since_update = np.zeros(0, np.int32)  # frames since the last match (0 = now)
        self.mean = np.zeros((0, 8))  # Kalman state, see kalman.py
        self.cov = np.zeros((0, 3, 4))
        self.score = np.zeros(0, np.float32)
        self.box = np.zeros((0, 4))  # last matched detection box
        self.kps = np.zeros((0, 17, 2))  # raw pose of the last match
        self.kp_scores = np.zeros((0, 17), np.float32)
        self.has_pose = np.zeros(0, bool)
        self.pose_xyah = np.zeros((0, 4))  # box (xyah) the stored pose was measured with
        # (T, B, D) float32, allocated at the first features
        self.gallery: Optional[np.ndarray] = None
        self.gallery_count = np.zeros(0, np.int32)  # filled gallery slots
        self.gallery_next = np.zeros(0, np.int32)  # slot the next feature overwrites (ring buffer)
        self.reported = np.zeros(0, bool)  # ever in an update's output
        self.det_index = np.zeros(0, np.int64)  # detection matched in this update, -1 = none
        # keypoint smoothing (One Euro): output, smoothed speed, filter running, time of the last
        # match
        self.kps_smoothed = np.zeros((0, 17, 2))
        self.kps_speed = np.zeros((0, 17, 2))
        self.smoothing_on = np.zeros((0, 17), bool)
        self.match_time = np.zeros(0)
        self.exited = np.zeros(0, bool)  # lost and predicted (mostly) outside the image

    _ROW_ARRAYS = (
        'ids',
        'state',
        'age',
        'hits',
        'time_since_update',
        'mean',
        'cov',
        'score',
        'box',
        'kps',
        'kp_scores',
        'has_pose',
        'pose_xyah',
        'gallery_count',
        'gallery_next',
        'reported',
        'det_index',
        'kps_smoothed',
        'kps_speed',
        'smoothing_on',
        'match_time',
        'exited',
    )

    def _keep_rows(self, keep: np.ndarray) -> None:
        for name in self._ROW_ARRAYS:
            setattr(self, name, getattr(self, name)[keep])
        if self.gallery is not None:
            self.gallery = self.gallery[keep]

    def __len__(self) -> int:
        return len(self.ids)

    def reset(self) -> None:
        """Drop every track (e.g. on a time jump).

        Reported live ids go to ``ended_ids``; new ids continue after the last one (ids are never
        reused).
        """
        self.ended_ids = [int(i) for i in self.ids[self.reported]]
        self.frame_count = 0
        self._time = None
        self._clear()

    # ------------------------------------------------------------------ input checks
    @staticmethod
    def _check(inp: TrackerInput):
        n = len(inp)
        if len(inp.boxes) != n:
            raise ValueError(f'{len(inp.boxes)} boxes but {n} scores')
        kps = kps_sc = feats = None
        if inp.keypoints is not None:
            kps = (
                np.asarray(inp.keypoints, np.float64).reshape(n, 17, 2)
                if n
                else np.zeros((0, 17, 2))
            )
            if inp.keypoint_scores is None:
                kps_sc = np.ones((n, 17), np.float32)
            else:
                kps_sc = (
                    np.asarray(inp.keypoint_scores, np.float32).reshape(n, 17)
                    if n
                    else np.zeros((0, 17), np.float32)
                )
            kps_sc = np.where(np.isfinite(kps).all(-1), kps_sc, 0.0).astype(np.float32)
            kps = np.nan_to_num(kps)
        if inp.features is not None:
            f = np.asarray(inp.features, np.float32)
            if f.ndim != 2 or len(f) != n:
                raise ValueError(f'features must be (N, D) with N = {n}, got shape {f.shape}')
            f = np.nan_to_num(f)
            feats = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        return kps, kps_sc, feats

    # ------------------------------------------------------------------ main step
    def update(self, inp: TrackerInput) -> List[TrackOutput]:
        """Advance one frame with this frame's detections.

        Returns the reported tracks in id order.
        """
        c = self.config
        self.frame_count += 1
        self.ended_ids = []
        kps, kps_sc, feats = self._check(inp)
        self._now = self._advance_time(inp.stamp)
        img = self._image_size(inp.image_size)
        boxes = np.asarray(inp.boxes, np.float64)
        scores = inp.scores
        wh = boxes[:, 2:] - boxes[:, :2]
        # invalid boxes (nan / inf / empty) and nan scores are ignored like below-threshold ones
        valid = (wh[:, 0] > 0) & (wh[:, 1] > 0) & (wh[:, 0] < np.inf) & (wh[:, 1] < np.inf)
        high = valid & (scores >= c.high_score_threshold)
        hi_idx = high.nonzero()[0]
        lo_idx = (valid & ~high & (scores >= c.low_score_threshold)).nonzero()[0]
        det_xyah = xyxy_to_xyah(boxes)
        if (
            feats is not None
            and self.gallery is not None
            and feats.shape[1] != self.gallery.shape[2]
        ):
            raise ValueError(
                f'feature dimension changed from {self.gallery.shape[2]} to {feats.shape[1]}; '
                'call reset() when switching embedders'
            )

        T = len(self.ids)
        unmatched_tracks = np.ones(T, bool)
        matched_rows, matched_dets = [], []  # matched track rows / detection indices, per stage
        matches = (matched_rows, matched_dets, unmatched_tracks)  # filled by _iou_association
        n_high = 0  # the first n_high matched pairs use high-score detections
        if T:
            if c.freeze_lost_size:
                self.mean[self.state == _LOST, 6:8] = 0.0  # unseen: no aspect / height change
            scale = None
            if c.lost_noise_scale != 1.0:
                # beyond a short blink (coast_frames) the person is really unseen
                scale = np.where(
                    (self.state == _LOST) & (self.time_since_update >= c.coast_frames),
                    c.lost_noise_scale,
                    1.0,
                )
            self.mean, self.cov = self.kf.predict(self.mean, self.cov, scale)
            self.age += 1
            self.time_since_update += 1
            self.det_index[:] = -1
            near = self._border_flags(img)
            at_border = near & (self.state == _LOST)
            assoc_start = time.perf_counter()
            if len(hi_idx) or len(lo_idx):
                # (T, N), sliced by each stage
                iou = iou_matrix(xyah_to_xyxy(self.mean[:, :4]), boxes)
                tent = self.state == _TENT
                prev = self.time_since_update == 1  # matched in the previous frame
            if len(hi_idx):
                # ---- stage 1: fused cost, gated, cascade over confirmed + lost tracks
                unmatched_high = hi_idx
                rows = (~tent).nonzero()[0]
                if len(rows):
                    r, d = self._main_association(
                        rows, hi_idx, iou, det_xyah, kps, kps_sc, feats, at_border[rows]
                    )
                    if len(r):
                        matched_rows.append(r)
                        matched_dets.append(d)
                        unmatched_tracks[r] = False
                        taken = np.zeros(len(boxes), bool)
                        taken[d] = True
                        unmatched_high = hi_idx[~taken[hi_idx]]
                # ---- stage 2: IoU only, tentative tracks + tracks matched in the previous frame
                rows = (unmatched_tracks & (tent | prev)).nonzero()[0]
                if len(rows) and len(unmatched_high):
                    self._iou_association(rows, unmatched_high, iou, c.max_iou_distance, matches)
                n_high = sum(len(r) for r in matched_rows)
            if len(lo_idx):
                # ---- stage 3: low-score detections vs confirmed tracks matched the frame before
                rows = (unmatched_tracks & ~tent & prev).nonzero()[0]
                if len(rows):
                    self._iou_association(rows, lo_idx, iou, c.low_score_max_iou_distance, matches)
            self.association_ms = (time.perf_counter() - assoc_start) * 1e3
        else:
            self.association_ms = 0.0

        new_d = hi_idx
        if matched_rows:
            r = matched_rows[0] if len(matched_rows) == 1 else np.concatenate(matched_rows)
            d = matched_dets[0] if len(matched_dets) == 1 else np.concatenate(matched_dets)
            self._apply_matches(r, d, n_high, boxes, scores, det_xyah, kps, kps_sc, feats)
            if n_high:
                taken = np.zeros(len(boxes), bool)
                taken[d[:n_high]] = True
                new_d = hi_idx[~taken[hi_idx]]

        # ---- unmatched tracks: confirmed -> lost; tentative or too old -> deleted
        if T and unmatched_tracks.any():
            st = self.state
            st[unmatched_tracks & (st == _CONF)] = _LOST
            dead = (unmatched_tracks & (st == _TENT)) | (self.time_since_update > c.max_age)
            # a person who walked out of the image is not waited for: whoever enters there next is
            # new
            dead |= unmatched_tracks & self.exited & (self.time_since_update > c.border_max_age)
            if dead.any():
                self.ended_ids = self.ids[dead & self.reported].tolist()
                self._keep_rows(~dead)

        # ---- new tracks from unmatched high-score detections
        if len(new_d):
            self._start_tracks(new_d, boxes, scores, det_xyah, kps, kps_sc, feats)
        return self._outputs()

    # ------------------------------------------------------------------ time and image border
    def _advance_time(self, stamp) -> float:
        """Frame time in seconds.

        The stamp when it is finite and later than the last one, else the last time plus one
        nominal frame (``smoothing_rate``), so the filter always sees a positive step.
        """
        last = self._time
        if stamp is not None and np.isfinite(stamp) and (last is None or stamp > last):
            now = float(stamp)
        else:
            now = 0.0 if last is None else last + 1.0 / self.config.smoothing_rate
        self._time = now
        return now

    @staticmethod
    def _image_size(size):
        if size is None:
            return None
        w, h = (float(v) for v in size)
        if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
            raise ValueError(f'image_size must be (width, height) > 0, got {size!r}')
        return w, h

    def _border_flags(self, img) -> np.ndarray:
        """Flag lost tracks that left the image; return which tracks are at the border.

        Called after the prediction: marks lost tracks that have left the image (``exited``) and
        returns which tracks are at the border (predicted box within ``border_margin`` of an edge).
        """
        c = self.config
        T = len(self.ids)
        self.exited = np.zeros(T, bool)
        if img is None or T == 0:
            return np.zeros(T, bool)
        lost = self.state == _LOST
        pred = xyah_to_xyxy(self.mean[:, :4])
        w, h = img
        self.exited = lost & (outside_fraction(pred, w, h) >= c.border_exit_fraction)
        if c.border_margin <= 0:
            return np.zeros(T, bool)
        mx, my = c.border_margin * w, c.border_margin * h
        return (
            (pred[:, 0] < mx) | (pred[:, 1] < my) | (pred[:, 2] > w - mx) | (pred[:, 3] > h - my)
        )

    # ------------------------------------------------------------------ stages
    def _main_association(self, rows, dets, iou, det_xyah, kps, kps_sc, feats, at_border):
        c = self.config
        cost = 1.0 - iou[rows][:, dets]
        d2 = self.kf.gating_distance(
            self.mean[rows], self.cov[rows], det_xyah[dets], c.gate_position_only
        )
        gated = d2 > self._gate
        if at_border.any():
            # a lost track at the image border: IoU with a box entering there is weak evidence (the
            # old person may have left, someone else come in); the height must agree
            ratio = det_xyah[dets][None, :, 3] / self.mean[rows][:, None, 3]
            bad = (ratio > c.border_size_ratio) | (ratio < 1.0 / c.border_size_ratio)
            gated |= bad & at_border[:, None]
        appearance_cost = pose_cost = None
        if feats is not None and self.gallery is not None and c.appearance_weight > 0:
            appearance_cost = cosine_gallery_distance(
                self.gallery[rows], self.gallery_count[rows], feats[dets]
            )
        if kps is not None and c.pose_weight > 0 and self.has_pose[rows].any():
            ti, di = (~gated).nonzero()  # pose cost only for gated candidates
            if len(ti):
                t = rows[ti]
                pxyah = self.mean[t, :4]
                tk = move_keypoints(self.kps[t], self.pose_xyah[t], pxyah)
                tvis = (self.kp_scores[t] >= c.keypoint_threshold) & self.has_pose[t][:, None]
                d = dets[di]
                oks = oks_pairs(
                    tk,
                    tvis,
                    pxyah[:, 2] * pxyah[:, 3] * pxyah[:, 3],
                    kps[d],
                    kps_sc[d] >= c.keypoint_threshold,
                    c.min_common_keypoints,
                )
                pose_cost = np.full(cost.shape, np.nan)
                pose_cost[ti, di] = 1.0 - oks
        border_pose = at_border & self.has_pose[rows]
        if kps is not None and c.border_min_oks > 0 and border_pose.any():
            # a lost track at the border: the poses must look alike, compared by shape (the moved
            # pose drifts over a long gap); too few common keypoints (nan) leaves the pair to the
            # other cues
            ti, di = (~gated & border_pose[:, None]).nonzero()
            if len(ti):
                t, d = rows[ti], dets[di]
                thr = c.keypoint_threshold
                shape = pose_shape_oks(
                    self.kps[t],
                    self.kp_scores[t] >= thr,
                    self.pose_xyah[t],
                    kps[d],
                    kps_sc[d] >= thr,
                    det_xyah[d, 3],
                    c.min_common_keypoints,
                )
                with np.errstate(invalid='ignore'):
                    weak = shape < c.border_min_oks
                gated[ti[weak], di[weak]] = True
        motion_cost = None
        if c.motion_weight > 0:
            motion_cost = np.minimum(d2 * (1.0 / self._gate), 1.0)
        if appearance_cost is not None or pose_cost is not None or motion_cost is not None:
            cost = fuse_costs(
                (cost, appearance_cost, pose_cost, motion_cost),
                (c.iou_weight, c.appearance_weight, c.pose_weight, c.motion_weight),
            )
        cost[gated] = np.inf
        if appearance_cost is not None:
            with np.errstate(invalid='ignore'):
                cost[appearance_cost > c.max_cosine_distance] = np.inf
        if c.matching_cascade:
            r, d = matching_cascade(cost, self.time_since_update[rows], c.max_match_cost)
        else:
            r, d = linear_assignment(cost, c.max_match_cost)
        return rows[r], dets[d]

    @staticmethod
    def _iou_association(rows, dets, iou, max_distance, matches) -> None:
        """Match track ``rows`` to detections ``dets`` by IoU alone and record the pairs.

        ``iou`` is the frame's (T, N) matrix; pairs with ``1 - IoU`` above ``max_distance`` stay
        apart. ``matches`` is ``(matched_rows, matched_dets, unmatched_tracks)``: the matched track
        rows and detection indices are appended to the two lists and the matched tracks are
        cleared in the ``unmatched_tracks`` mask (all in place).
        """
        matched_rows, matched_dets, unmatched_tracks = matches
        r, d = linear_assignment(1.0 - iou[rows][:, dets], max_distance)
        if len(r):
            matched_rows.append(rows[r])
            matched_dets.append(dets[d])
            unmatched_tracks[rows[r]] = False

    def _apply_matches(self, r, d, n_high, boxes, scores, det_xyah, kps, kps_sc, feats) -> None:
        c = self.config
        self.mean[r], self.cov[r] = self.kf.update(self.mean[r], self.cov[r], det_xyah[d])
        if kps is not None:
            # before self.kps (the previous raw pose) is replaced
            self._smooth(r, kps[d], kps_sc[d])
        self.match_time[r] = self._now
        self.hits[r] += 1
        self.time_since_update[r] = 0
        self.det_index[r] = d
        self.score[r] = scores[d]
        self.box[r] = boxes[d]
        st = self.state[r]
        st[(st == _TENT) & (self.hits[r] >= c.n_init)] = _CONF
        st[st == _LOST] = _CONF
        self.state[r] = st
        if kps is not None:
            self.kps[r] = kps[d]
            self.kp_scores[r] = kps_sc[d]
            self.pose_xyah[r] = det_xyah[d]
            self.has_pose[r] = True
        else:
            self.has_pose[r] = False
        if feats is not None and n_high:
            self._add_features(r[:n_high], feats[d[:n_high]])

    def _smooth(self, r, x, sc) -> None:
        """One Euro step of the matched tracks ``r`` with their new raw poses ``x (R, 17, 2)``.

        A filter (re)starts at the raw value when the keypoint is new, was not visible at the
        track's last match, or the track was unseen for longer than ``coast_frames``.
        """
        c = self.config
        vis = sc >= c.smoothing_keypoint_threshold
        if not c.smooth_keypoints:
            self.kps_smoothed[r] = x
            self.kps_speed[r] = 0.0
            self.smoothing_on[r] = False  # switching smoothing on later starts from scratch
            return
        recent = self.has_pose[r] & (self.time_since_update[r] <= c.coast_frames + 1)
        cont = (self.smoothing_on[r] & vis & recent[:, None])[..., None]
        xyah = self.mean[r, :4]
        size = 0.5 * (xyah[:, 2] + 1.0) * xyah[:, 3]  # (w + h) / 2 of the filtered box
        dt = (self._now - self.match_time[r])[:, None, None]
        hat, dhat = one_euro_step(
            x,
            self.kps[r],
            self.kps_smoothed[r],
            self.kps_speed[r],
            dt,
            size[:, None, None],
            c.smoothing_min_cutoff,
            c.smoothing_beta,
            c.smoothing_derivative_cutoff,
        )
        self.kps_smoothed[r] = np.where(cont, hat, x)
        self.kps_speed[r] = np.where(cont, dhat, 0.0)
        self.smoothing_on[r] = vis

    def _add_features(self, rows, f) -> None:
        if self.gallery is None:
            self.gallery = np.zeros((len(self.ids), self._budget, f.shape[1]), np.float32)
        ema = self.config.feature_ema
        if ema > 0:
            old = self.gallery[rows, 0]
            has = (self.gallery_count[rows] > 0)[:, None]
            new = np.where(has, ema * old + (1.0 - ema) * f, f)
            new /= np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
            self.gallery[rows, 0] = new
            self.gallery_count[rows] = 1
        else:
            slot = self.gallery_next[rows]
            self.gallery[rows, slot] = f
            self.gallery_next[rows] = (slot + 1) % self._budget
            self.gallery_count[rows] = np.minimum(self.gallery_count[rows] + 1, self._budget)

    def _start_tracks(self, d, boxes, scores, det_xyah, kps, kps_sc, feats) -> None:
        n = len(d)
        mean, cov = self.kf.initiate(det_xyah[d])
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        first_state = _CONF if self.config.n_init <= 1 else _TENT
        new = {
            'ids': ids,
            'state': np.full(n, first_state, np.int8),
            'age': np.ones(n, np.int32),
            'hits': np.ones(n, np.int32),
            'time_since_update': np.zeros(n, np.int32),
            'mean': mean,
            'cov': cov,
            'score': scores[d].astype(np.float32),
            'box': boxes[d],
            'kps': kps[d] if kps is not None else np.zeros((n, 17, 2)),
            'kp_scores': kps_sc[d] if kps is not None else np.zeros((n, 17), np.float32),
            'has_pose': np.full(n, kps is not None),
            'pose_xyah': det_xyah[d],
            'gallery_count': np.zeros(n, np.int32),
            'gallery_next': np.zeros(n, np.int32),
            'reported': np.zeros(n, bool),
            'det_index': d.astype(np.int64),
            'kps_smoothed': kps[d] if kps is not None else np.zeros((n, 17, 2)),
            'kps_speed': np.zeros((n, 17, 2)),
            'smoothing_on': (kps_sc[d] >= self.config.smoothing_keypoint_threshold)
            if kps is not None and self.config.smooth_keypoints
            else np.zeros((n, 17), bool),
            'match_time': np.full(n, self._now),
            'exited': np.zeros(n, bool),
        }
        for name in self._ROW_ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        if self.gallery is not None:
            g = self.gallery
            self.gallery = np.concatenate([g, np.zeros((n,) + g.shape[1:], np.float32)])
        if feats is not None:
            self._add_features(np.arange(len(self.ids) - n, len(self.ids)), feats[d])

    # ------------------------------------------------------------------ output
    def _outputs(self) -> List[TrackOutput]:
        c = self.config
        st = self.state
        sel = st == _CONF
        if c.output_lost:
            sel |= st == _LOST
        elif c.coast_frames > 0:
            sel |= (st == _LOST) & (self.time_since_update <= c.coast_frames)
        if c.output_tentative:
            sel |= st == _TENT
        rows = sel.nonzero()[0]
        if len(rows) == 0:
            return []
        self.reported[rows] = True
        time_since_update = self.time_since_update[rows]
        boxes = self.box[rows].astype(np.float32)
        kps_raw = self.kps[rows].astype(np.float32)
        kps = self.kps_smoothed[rows].astype(np.float32) if c.smooth_keypoints else kps_raw.copy()
        coasting = time_since_update > 0
        if c.output_filtered_box and not coasting.all():
            matched_rows = rows[~coasting]
            boxes[~coasting] = xyah_to_xyxy(self.mean[matched_rows, :4])
        if coasting.any():
            cr = rows[coasting]
            pred = self.mean[cr, :4]
            boxes[coasting] = xyah_to_xyxy(pred)
            kps_raw[coasting] = move_keypoints(self.kps[cr], self.pose_xyah[cr], pred)
            kps[coasting] = (
                move_keypoints(self.kps_smoothed[cr], self.pose_xyah[cr], pred)
                if c.smooth_keypoints
                else kps_raw[coasting]
            )
        kp_sc = self.kp_scores[rows]
        return [
            TrackOutput(
                tid,
                _STATES[s_],
                a_,
                h_,
                t_,
                boxes[j],
                sc,
                kps[j] if hp else None,
                kp_sc[j].copy() if hp else None,
                di,
                kps_raw[j] if hp else None,
                kp_sc[j].copy() if hp else None,
            )
            for j, (tid, s_, a_, h_, t_, sc, hp, di) in enumerate(
                zip(
                    self.ids[rows].tolist(),
                    st[rows].tolist(),
                    self.age[rows].tolist(),
                    self.hits[rows].tolist(),
                    time_since_update.tolist(),
                    self.score[rows].tolist(),
                    self.has_pose[rows].tolist(),
                    self.det_index[rows].tolist(),
                )
            )
        ]
