"""The bundled demo: a real video through the ROS nodes over real DDS, with a summary.

    python -m poseflow_ros.demo [--video PATH] [--out out/demo]
        [--params config/pose_tracking.yaml] [-p name:=value ...]

Three processes, as on a robot: ``video_source`` publishes the video at its frame rate,
``pose_tracker`` (params from --params, plus publish_debug_image) tracks people, and this process
records ``tracked_poses`` and ``debug_image`` on the other end of DDS
(:mod:`poseflow_ros.ros.demo_runner`). It shows a live line (frames, FPS, persons, track ids) and
writes ``annotated.mp4`` and ``summary.json``: frames published/processed/dropped, persons per
frame, distinct track ids, end-to-end FPS, latency and per-stage milliseconds (from the node's
stats_file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_param_option, parse_params
from .paths import REPO_ROOT, shared_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--video', default=str(shared_dir() / 'data' / 'videos' / 'walk.small.mp4'))
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'demo'))
    ap.add_argument('--params', default=str(REPO_ROOT / 'config' / 'pose_tracking.yaml'))
    add_param_option(ap, 'extra pose_tracker parameter, e.g. -p device:=cpu -p embedder:=color')
    ap.add_argument('--max-seconds', type=float, default=900.0)
    ap.add_argument('--no-progress', action='store_true', help='no live progress line')
    a = ap.parse_args(argv)
    try:
        extra = parse_params(a.param)
    except ValueError as e:
        ap.error(str(e))
    video = Path(a.video)
    if not video.is_file():
        print(f'video not found: {video} (pass --video or set POSEFLOW_SHARED)', file=sys.stderr)
        return 2
    try:
        from .ros.demo_runner import run_demo

        s = run_demo(
            video, Path(a.out), Path(a.params), extra, a.max_seconds, progress=not a.no_progress
        )
    except KeyboardInterrupt:
        print('interrupted during start-up; nothing to summarise')
        return 0
    if s['interrupted']:
        print('interrupted: summary of the frames so far')
    st = s['stage_ms']
    print(
        f"published {s['frames_published']}, received by the node {s['frames_received_by_node']} "
        f"({100 * s['received_fraction']:.1f} %, {s['subscription_reliability']} subscription), "
        f"processed {s['frames_processed']} ({100 * s['processed_fraction']:.1f} %; "
        f"latest-wins dropped {s['frames_dropped_latest_wins']})"
    )
    print(
        f"persons/frame "
        f"{s['persons_per_frame']['mean']:.2f}, distinct track ids {s['distinct_track_ids']}, "
        f"end-to-end {s['end_to_end_fps']:.1f} FPS, processing {s['processing_fps']:.1f} FPS "
        f"on {s['device']} ({s['pose_backend']}/{s['pose_runtime']}"
        f"{'' if s.get('pose_precision', 'fp32') == 'fp32' else ' ' + s['pose_precision']})"
    )
    if s.get('overlap') == 'when_behind':
        print(
            f"overlap while behind the camera: {s['frames_overlapped']} frames overlapped, "
            f"{s['overlap_switches']} switches"
        )
    print('stage ms (mean): ' + ', '.join(f'{k} {v["mean"]:.1f}' for k, v in st.items()))
    print(f"wrote {Path(a.out) / 'annotated.mp4'} and {Path(a.out) / 'summary.json'}")
    return (
        0
        if s['frames_processed'] > 0 and s['exit_codes'] == {'pose_tracker': 0, 'video_source': 0}
        else 1
    )


if __name__ == '__main__':
    sys.exit(main())
