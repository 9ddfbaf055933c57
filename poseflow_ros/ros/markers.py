"""RViz skeleton markers per track: lines (skeleton), spheres (joints), text (id).

Without depth, keypoints are placed on a plane ``depth`` metres in front of the camera in the
image's (optical) frame: X = (u - cx) / f * depth, Y = (v - cy) / f * depth, Z = depth, with
f = focal_px (0 -> image width, about a 53 degree horizontal field of view). Marker ids equal
track ids so a track's markers are modified in place (no blinking); markers of tracks that are
no longer reported are deleted explicitly, and every marker has a lifetime as a backstop.
"""
from __future__ import annotations

from typing import Iterable, List, Set, Tuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..coco import SKELETON
from ..render import track_color
from ..types import TrackOutput, TrackState

NAMESPACES = ('skeleton', 'joints', 'label')


class MarkerBuilder:
    """Builds one MarkerArray per frame. Every marker has ``lifetime`` seconds (0 = forever) so a stopped
    camera leaves nothing stale; a skeleton or joint marker with no point above ``kp_threshold`` is
    deleted rather than sent empty; markers of tracks that are no longer reported are deleted."""

    def __init__(self, depth: float, focal_px: float, kp_threshold: float, lifetime: float,
                 line_width: float = 0.01, joint_size: float = 0.025, text_size: float = 0.06):
        # depth, focal_px, kp_threshold, lifetime: the node's settings (NodeSettings marker_depth,
        # marker_focal_px, keypoint_score_threshold, marker_lifetime); their defaults live there
        self.depth = depth
        self.focal_px = focal_px
        self.kp_threshold = kp_threshold
        self.lifetime = lifetime
        self.line_width = line_width
        self.joint_size = joint_size
        self.text_size = text_size
        self._shown: Set[Tuple[str, int]] = set()      # (namespace, marker id) currently in RViz

    def _project(self, u, v, w, h) -> Point:
        f = self.focal_px if self.focal_px > 0 else float(w)
        return Point(x=(u - w / 2.0) / f * self.depth, y=(v - h / 2.0) / f * self.depth, z=self.depth)

    def _lifetime(self) -> Duration:
        sec = int(self.lifetime)
        return Duration(sec=sec, nanosec=int(round((self.lifetime - sec) * 1e9)) % 1000000000)

    def build(self, tracks: Iterable[TrackOutput], header: Header, width: int, height: int) -> MarkerArray:
        out: List[Marker] = []
        now: Set[Tuple[str, int]] = set()
        life = self._lifetime()
        for t in tracks:
            tid = int(t.track_id)
            mid = tid % 2147483647
            r, g, b = track_color(tid)
            lost = t.state == TrackState.LOST
            col = ColorRGBA(r=r, g=g, b=b, a=0.35 if lost else 1.0)    # coasting: drawn faint
            common = dict(header=Header(stamp=header.stamp, frame_id=header.frame_id), id=mid,
                          action=Marker.ADD, lifetime=life)
            lines = Marker(ns='skeleton', type=Marker.LINE_LIST, color=col, **common)
            lines.scale.x = self.line_width
            lines.pose.orientation.w = 1.0
            joints = Marker(ns='joints', type=Marker.SPHERE_LIST, color=col, **common)
            joints.scale.x = joints.scale.y = joints.scale.z = self.joint_size
            joints.pose.orientation.w = 1.0
            if t.keypoints is not None:
                kp, sc = t.keypoints, t.keypoint_scores
                pts = [self._project(float(x), float(y), width, height) for x, y in kp]
                for a, bb in SKELETON:
                    if sc[a] >= self.kp_threshold and sc[bb] >= self.kp_threshold:
                        lines.points.extend([pts[a], pts[bb]])
                joints.points = [pts[i] for i in range(len(pts)) if sc[i] >= self.kp_threshold]
            label = Marker(ns='label', type=Marker.TEXT_VIEW_FACING, color=col, text=f'#{tid}', **common)
            label.scale.z = self.text_size
            top = self._project((t.box[0] + t.box[2]) / 2.0, float(t.box[1]), width, height)
            label.pose.position = Point(x=top.x, y=top.y - self.text_size, z=top.z)
            label.pose.orientation.w = 1.0
            for m in (lines, joints, label):
                if m.type == Marker.TEXT_VIEW_FACING or m.points:
                    out.append(m)
                    now.add((m.ns, mid))
        for ns, mid in sorted(self._shown - now):
            out.append(self._delete(ns, mid, header))
        self._shown = now
        return MarkerArray(markers=out)

    @staticmethod
    def _delete(ns: str, mid: int, header: Header) -> Marker:
        return Marker(header=Header(stamp=header.stamp, frame_id=header.frame_id), ns=ns, id=mid,
                      action=Marker.DELETE)

    def delete_all(self, header: Header) -> MarkerArray:
        """One DELETEALL per namespace (deactivate, shutdown): RViz then holds none of our markers."""
        self._shown = set()
        return MarkerArray(markers=[Marker(header=Header(stamp=header.stamp, frame_id=header.frame_id),
                                           ns=ns, action=Marker.DELETEALL) for ns in NAMESPACES])
