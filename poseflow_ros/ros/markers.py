"""RViz markers per track.

Lines (skeleton), spheres (joints), text (id) and, with 3D, the person's position (sphere) and
velocity (arrow), all in the image's (optical) frame.

A track with 3D (``FrameResult.tracks_3d``, from depth or monocular) is drawn at its real 3D
keypoints; its label floats above its head and a sphere marks its position, with an arrow to where
it would be after ``velocity_s`` seconds when the velocity is known. A track without 3D is drawn on
a plane ``depth`` metres in front of the camera: X = (u - cx) / fx * depth, Y = (v - cy) / fy *
depth, Z = depth, with the camera's K when a valid camera is given, else f = focal_px (0 -> image
width, about a 53 degree horizontal field of view) and the image centre. Marker ids equal track ids
so a track's markers are modified in place (no blinking); markers of tracks that are no longer
reported (or no longer have a position) are deleted explicitly, and every marker has a lifetime as
a backstop.
"""

from __future__ import annotations

import math
from typing import Iterable, List, Set, Tuple

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..coco import SKELETON
from ..render import track_color
from ..types import TrackOutput, TrackState

NAMESPACES = ('skeleton', 'joints', 'label', 'person', 'velocity')
# slower persons get no velocity arrow: still people on five_people (the same frame repeated at 5
# Hz, default temporal pose crops) showed up to 0.21 m/s from 2D keypoint jitter; slow walking is
# about 0.5 m/s
MIN_ARROW_SPEED = 0.25  # m/s


def _has_3d(poses_3d, i: int) -> bool:
    """Track i has 3D to draw: a 3D source and a position or at least one valid 3D keypoint."""
    if poses_3d is None or int(poses_3d.source[i]) == 0:
        return False
    return bool(
        np.isfinite(poses_3d.positions[i]).all()
        or (np.isfinite(poses_3d.keypoints[i]).all(1) & (poses_3d.scores[i] > 0)).any()
    )


class MarkerBuilder:
    """Builds one MarkerArray per frame.

    Every marker has ``lifetime`` seconds (0 = forever) so a stopped camera leaves nothing stale; a
    skeleton or joint marker with no point above ``kp_threshold`` is deleted rather than sent
    empty; markers of tracks that are no longer reported are deleted.
    """

    def __init__(
        self,
        depth: float,
        focal_px: float,
        kp_threshold: float,
        lifetime: float,
        velocity_s: float = 1.0,
        line_width: float = 0.01,
        joint_size: float = 0.025,
        text_size: float = 0.06,
        person_size: float = 0.12,
    ):
        # depth, focal_px, kp_threshold, lifetime, velocity_s: the node's settings (NodeSettings
        # marker_depth, marker_focal_px, keypoint_score_threshold, marker_lifetime,
        # marker_velocity_s)
        self.depth = depth
        self.focal_px = focal_px
        self.kp_threshold = kp_threshold
        self.lifetime = lifetime
        self.velocity_s = velocity_s
        self.line_width = line_width
        self.joint_size = joint_size
        self.text_size = text_size
        self.person_size = person_size
        self._shown: Set[Tuple[str, int]] = set()  # (namespace, marker id) currently in RViz

    def _plane(self, uv: np.ndarray, w: int, h: int, camera) -> np.ndarray:
        """Pixels (N,2) -> points (N,3) on the plane z = depth."""
        uv = np.asarray(uv, np.float64).reshape(-1, 2)
        if camera is not None and camera.valid():
            if (camera.width, camera.height) != (w, h):
                camera = camera.scaled_to(w, h)
            fx, fy, cx, cy = camera.fx, camera.fy, camera.cx, camera.cy
        else:
            fx = fy = self.focal_px if self.focal_px > 0 else float(w)
            cx, cy = w / 2.0, h / 2.0
        return np.stack(
            [
                (uv[:, 0] - cx) / fx * self.depth,
                (uv[:, 1] - cy) / fy * self.depth,
                np.full(len(uv), self.depth),
            ],
            1,
        )

    def _lifetime(self) -> Duration:
        sec = int(self.lifetime)
        return Duration(sec=sec, nanosec=int(round((self.lifetime - sec) * 1e9)) % 1000000000)

    def build(
        self,
        tracks: Iterable[TrackOutput],
        header: Header,
        width: int,
        height: int,
        poses_3d=None,
        camera=None,
    ) -> MarkerArray:
        """Markers of one frame.

        ``poses_3d``: FrameResult.tracks_3d (aligned with ``tracks``) or None; ``camera``: the
        colour image's CameraModel (valid, at width x height) or None.
        """
        out: List[Marker] = []
        now: Set[Tuple[str, int]] = set()
        life = self._lifetime()
        for i, t in enumerate(tracks):
            tid = int(t.track_id)
            mid = tid % 2147483647
            r, g, b = track_color(tid)
            lost = t.state == TrackState.LOST
            col = ColorRGBA(r=r, g=g, b=b, a=0.35 if lost else 1.0)  # coasting: drawn faint
            common = dict(
                header=Header(stamp=header.stamp, frame_id=header.frame_id),
                id=mid,
                action=Marker.ADD,
                lifetime=life,
            )
            lines = Marker(ns='skeleton', type=Marker.LINE_LIST, color=col, **common)
            lines.scale.x = self.line_width
            lines.pose.orientation.w = 1.0
            joints = Marker(ns='joints', type=Marker.SPHERE_LIST, color=col, **common)
            joints.scale.x = joints.scale.y = joints.scale.z = self.joint_size
            joints.pose.orientation.w = 1.0
            label = Marker(
                ns='label', type=Marker.TEXT_VIEW_FACING, color=col, text=f'#{tid}', **common
            )
            label.scale.z = self.text_size
            label.pose.orientation.w = 1.0
            extra: List[Marker] = []
            if _has_3d(poses_3d, i):
                self._skeleton_3d(t, poses_3d, i, lines, joints, label, extra, col, common)
            else:
                self._skeleton_plane(t, width, height, camera, lines, joints, label)
            for m in [lines, joints, label] + extra:
                if m.type in (Marker.TEXT_VIEW_FACING, Marker.SPHERE, Marker.ARROW) or m.points:
                    out.append(m)
                    now.add((m.ns, mid))
        for ns, mid in sorted(self._shown - now):
            out.append(self._delete(ns, mid, header))
        self._shown = now
        return MarkerArray(markers=out)

    def _skeleton_plane(self, t, w, h, camera, lines, joints, label) -> None:
        if t.keypoints is not None:
            sc = t.keypoint_scores
            pts = [
                Point(x=x, y=y, z=z) for x, y, z in self._plane(t.keypoints, w, h, camera).tolist()
            ]
            self._connect(
                pts, [sc[j] >= self.kp_threshold for j in range(len(pts))], lines, joints
            )
        ((x, y, z),) = self._plane(
            [((t.box[0] + t.box[2]) / 2.0, float(t.box[1]))], w, h, camera
        ).tolist()
        label.pose.position = Point(x=x, y=y - self.text_size, z=z)

    def _skeleton_3d(self, t, poses_3d, i, lines, joints, label, extra, col, common) -> None:
        kp = np.asarray(poses_3d.keypoints[i], np.float64)
        valid = np.isfinite(kp).all(1) & (np.asarray(poses_3d.scores[i]) > 0)
        ok = valid.copy()
        if t.keypoint_scores is not None:
            ok &= np.asarray(t.keypoint_scores) >= self.kp_threshold
        pts = [Point(x=x, y=y, z=z) for x, y, z in kp.tolist()]
        self._connect(pts, ok.tolist(), lines, joints)
        pos = np.asarray(poses_3d.positions[i], np.float64)
        has_pos = bool(np.isfinite(pos).all())
        top_of = ok if ok.any() else valid
        if top_of.any():  # label above the highest keypoint (optical frame: y down)
            top = kp[top_of][np.argmin(kp[top_of, 1])]
            anchor = (float(top[0]), float(top[1]) - 2 * self.text_size, float(top[2]))
        else:
            anchor = (float(pos[0]), float(pos[1]) - 0.5, float(pos[2]))
        label.pose.position = Point(x=anchor[0], y=anchor[1], z=anchor[2])
        if has_pos:
            label.text = f'#{t.track_id} {float(pos[2]):.2f} m'
        if not has_pos:
            return
        person = Marker(ns='person', type=Marker.SPHERE, color=col, **common)
        person.pose.position = Point(x=float(pos[0]), y=float(pos[1]), z=float(pos[2]))
        person.pose.orientation.w = 1.0
        person.scale.x = person.scale.y = person.scale.z = self.person_size
        extra.append(person)
        vel = np.asarray(poses_3d.velocities[i], np.float64)
        if (
            self.velocity_s > 0
            and np.isfinite(vel).all()
            and math.hypot(*vel.tolist()) >= MIN_ARROW_SPEED
        ):
            tip = pos + vel * self.velocity_s
            arrow = Marker(ns='velocity', type=Marker.ARROW, color=col, **common)
            arrow.pose.orientation.w = 1.0
            arrow.points = [
                Point(x=float(pos[0]), y=float(pos[1]), z=float(pos[2])),
                Point(x=float(tip[0]), y=float(tip[1]), z=float(tip[2])),
            ]
            # shaft, head width/length
            arrow.scale.x, arrow.scale.y, arrow.scale.z = (
                0.03,
                0.06,
                0.08,
            )
            extra.append(arrow)

    def _connect(self, pts, ok, lines, joints) -> None:
        for a, bb in SKELETON:
            if ok[a] and ok[bb]:
                lines.points.extend([pts[a], pts[bb]])
        joints.points = [pts[j] for j in range(len(pts)) if ok[j]]

    @staticmethod
    def _delete(ns: str, mid: int, header: Header) -> Marker:
        return Marker(
            header=Header(stamp=header.stamp, frame_id=header.frame_id),
            ns=ns,
            id=mid,
            action=Marker.DELETE,
        )

    def delete_all(self, header: Header) -> MarkerArray:
        """One DELETEALL per namespace (deactivate, shutdown).

        RViz then holds none of our markers.
        """
        self._shown = set()
        return MarkerArray(
            markers=[
                Marker(
                    header=Header(stamp=header.stamp, frame_id=header.frame_id),
                    ns=ns,
                    action=Marker.DELETEALL,
                )
                for ns in NAMESPACES
            ]
        )
