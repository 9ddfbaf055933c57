"""The demo end to end, shortened.

Real video -> video_source -> pose_tracker -> recorder over DDS.
"""

import json
import subprocess
import sys


def test_demo_short_run(walk_video, tmp_path):
    out = tmp_path / 'demo'
    p = subprocess.run(
        [
            sys.executable,
            '-m',
            'poseflow_ros.demo',
            '--video',
            str(walk_video),
            '--out',
            str(out),
            '--max-seconds',
            '8',
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    s = json.loads((out / 'summary.json').read_text())
    # the camera was stopped 8 s after its start (a few s of it start-up): part of the video, not
    # all
    assert 25 <= s['frames_published'] < s['video_frames'], s
    assert s['frames_received_by_node'] >= 0.9 * s['frames_published'], s
    assert s['frames_processed'] > 0 and s['tracked_pose_msgs_received_by_subscriber'] > 0, s
    assert s['persons_per_frame']['mean'] > 1.0 and s['distinct_track_ids'] >= 2, s
    assert s['annotated_frames_written'] > 0 and (out / 'annotated.mp4').stat().st_size > 10_000
    assert s['exit_codes'] == {'pose_tracker': 0, 'video_source': 0}
    # the node's overlap mode and what the governor did are reported
    assert s['overlap'] == 'when_behind' and 0 <= s['frames_overlapped'] <= s['frames_processed']
    # the live line went to stderr, the summary lines to stdout
    assert 'tracked:' in p.stderr and 'FPS' in p.stderr and 'ids' in p.stderr, p.stderr[-2000:]
    assert 'published' in p.stdout and 'distinct track ids' in p.stdout, p.stdout
