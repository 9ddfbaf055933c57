"""Where models, shared data and caches live.

- models directory: explicit argument > ``$POSEFLOW_MODELS`` > ``~/.cache/poseflow_ros/models``
- shared data (this workplace's videos/photos/ground truth, never committed):
  ``$POSEFLOW_SHARED`` > ``<repo>/../shared``
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def models_dir(explicit: str = '') -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get('POSEFLOW_MODELS', '')
    if env:
        return Path(env).expanduser()
    return Path('~/.cache/poseflow_ros/models').expanduser()


def shared_dir() -> Path:
    env = os.environ.get('POSEFLOW_SHARED', '')
    if env:
        return Path(env).expanduser()
    return (REPO_ROOT.parent / 'shared').resolve()
