"""The ``summary.json`` of a run: the machine it ran on, written next to its outputs.

No ROS types: shared by the demo runner and the bag tool.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Dict


def machine_info() -> Dict[str, Any]:
    """Return the CPU count, Python version and architecture of this machine."""
    return {
        'cpus': os.cpu_count(),
        'python': platform.python_version(),
        'arch': platform.machine(),
    }


def write_summary(out_dir: Path, summary: Dict[str, Any]) -> Dict[str, Any]:
    """Add ``machine`` (last) to ``summary``, write ``out_dir/summary.json`` and return it."""
    summary['machine'] = machine_info()
    (Path(out_dir) / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary
