"""Process-level set-up shared by the node executables: Fast DDS profile and signal handling."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Optional

PROFILE_NAME = 'fastdds_large_images.xml'
_PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
RMEM_NEEDED = (
    2 * 1024 * 1024
)  # the profile asks for 4 MiB; 2 MiB measured enough for 1280x720 at 25 Hz


def _profile_path() -> Optional[Path]:
    try:
        from ament_index_python.packages import get_package_share_directory

        p = Path(get_package_share_directory('poseflow_ros')) / 'config' / PROFILE_NAME
        if p.is_file():
            return p
    except Exception:  # noqa: BLE001 -- no ament index (AMENT_PREFIX_PATH unset): use the source tree
        pass
    p = Path(__file__).resolve().parents[2] / 'config' / PROFILE_NAME
    return p if p.is_file() else None


def use_large_image_profile() -> Optional[str]:
    """Point Fast DDS at config/fastdds_large_images.xml unless the user chose otherwise.

    Left alone when the user chose a profile (either variable set, even empty) or another
    middleware. Must run before rclpy.init(). Returns the path used.
    """
    if any(v in os.environ for v in _PROFILE_VARS):
        return None
    if os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp') != 'rmw_fastrtps_cpp':
        return None
    p = _profile_path()
    if p is None:
        return None
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(p)
    return str(p)


def receive_buffer_limit() -> Optional[int]:
    """net.core.rmem_max in bytes (None where it cannot be read)."""
    try:
        return int(Path('/proc/sys/net/core/rmem_max').read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def rss_mb(pid='self') -> Optional[float]:
    """Resident memory (VmRSS) of a process in MB (None where it cannot be read)."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def install_stop_handlers() -> threading.Event:
    """Make SIGINT and SIGTERM set the returned event (the main loop then shuts down in order).

    A second Ctrl-C changes nothing.
    """
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


def ignore_stop_signals() -> None:
    """Ignore SIGINT and SIGTERM while cleaning up and exiting.

    A second Ctrl-C must not interrupt the orderly shutdown, nor kill the process during
    interpreter finalisation (Python restores the default handler of a handled signal then, but
    leaves an ignored one ignored).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
