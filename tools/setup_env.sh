#!/usr/bin/env bash
# One-time (idempotent) setup of everything poseflow_ros needs, into ./.venv:
# ROS 2 Kilted from PyPI wheels, torch (CPU), onnxruntime, the MMPose stack, the ROS 2 launch system and
# `ros2` CLI (wheels from $POSEFLOW_SHARED/wheels/ros2-launch), our package (messages built with rosidl,
# installed editable; share/poseflow_ros/{launch,config}/* symlinked to the sources), and the default models.
# Re-running is fast: each step is skipped when its inputs did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1
quiet() { grep -v -e '^WARNING: Location' -e '^Looking in' -e '^Requirement already satisfied' || true; }
stamp() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }

t0=$(date +%s)
# The ROS 2 launch system, launch_pytest and the `ros2` CLI are not on PyPI: wheels in the shared folder
# (see $POSEFLOW_SHARED/docs/ros2-launch/README.md); their PyPI dependencies come from PyPI.
LAUNCH_WHEELS="${POSEFLOW_SHARED:-../shared}/wheels/ros2-launch"
if [ ! -f "$LAUNCH_WHEELS/requirements.txt" ] && [ ! -f "$VENV/.stamp-launch" ]; then
  echo "[setup] ERROR: the ROS 2 launch wheels are not in $LAUNCH_WHEELS (no requirements.txt there)." >&2
  echo "[setup]        Set POSEFLOW_SHARED to the shared folder that holds wheels/ros2-launch" \
       "(now: ${POSEFLOW_SHARED:-unset, so ../shared})." >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

s=$(stamp requirements.txt requirements-eval.txt)
if [ "$(cat "$VENV/.stamp-reqs" 2>/dev/null)" != "$s" ]; then
  echo "[setup] installing Python requirements (ROS 2 wheels, torch==2.13.0 CPU, onnxruntime, ...)"
  "$VPY" -m pip install -q --upgrade pip 2>&1 | quiet
  "$VPY" -m pip install -q -r requirements.txt $( [ -f requirements-eval.txt ] && echo -r requirements-eval.txt ) 2>&1 | quiet
  echo "$s" > "$VENV/.stamp-reqs"
fi

s=$(stamp tools/install_mmpose.sh)
if [ -f tools/install_mmpose.sh ] && [ "$(cat "$VENV/.stamp-mmpose" 2>/dev/null)" != "$s" ]; then
  echo "[setup] installing the MMPose stack (optional pose backend)"
  PY="$VPY" bash tools/install_mmpose.sh
  echo "$s" > "$VENV/.stamp-mmpose"
fi

if [ -f "$LAUNCH_WHEELS/requirements.txt" ]; then
  s=$( { ls "$LAUNCH_WHEELS"; cat "$LAUNCH_WHEELS/requirements.txt"; } | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.stamp-launch" 2>/dev/null)" != "$s" ] || ! "$VPY" -c 'import launch_ros.actions, ros2cli' 2>/dev/null; then
    echo "[setup] installing the ROS 2 launch system and ros2 CLI from $LAUNCH_WHEELS"
    "$VPY" -m pip install -q --find-links "$LAUNCH_WHEELS" -r "$LAUNCH_WHEELS/requirements.txt" 2>&1 | quiet
    echo "$s" > "$VENV/.stamp-launch"
  fi
else
  echo "[setup] note: $LAUNCH_WHEELS not found (POSEFLOW_SHARED=${POSEFLOW_SHARED:-unset}); keeping the launch wheels installed before"
fi

# The editable install symlinks each file of launch/ and config/ into $VENV/share/poseflow_ros/: their
# names are in the stamp, and copies left there by an older install trigger a rebuild.
s=$( { stamp CMakeLists.txt package.xml pyproject.toml msg/*.msg; ls launch config; } | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.stamp-build" 2>/dev/null)" != "$s" ] || ! "$VPY" -c 'import poseflow_ros.msg' 2>/dev/null \
   || [ ! -L "$VENV/share/poseflow_ros/launch/pose_tracking.launch.py" ]; then
  echo "[setup] building poseflow_ros (rosidl messages) and installing it editable"
  # An install that copied share/poseflow_ros/{launch,config} lists those files in its RECORD: pip would
  # remove the new symlinks when it replaces it (after the build), so uninstall it first.
  if "$VPY" -c 'import importlib.metadata as m, sys
sys.exit(not any("share/poseflow_ros/launch/" in str(p) for p in m.distribution("poseflow-ros").files or []))' 2>/dev/null; then
    "$VPY" -m pip uninstall -q -y poseflow-ros 2>&1 | quiet
  fi
  "$VPY" -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | quiet
  echo "$s" > "$VENV/.stamp-build"
fi

echo "[setup] models"
"$VPY" -m poseflow_ros.models fetch
echo "[setup] done in $(( $(date +%s) - t0 )) s"
