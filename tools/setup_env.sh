#!/usr/bin/env bash
# One-time (idempotent) setup of everything poseflow_ros needs, into ./.venv:
# ROS 2 Kilted from PyPI wheels, torch (CPU), onnxruntime, the MMPose stack, our package
# (messages built with rosidl, installed editable), and the default models.
# Re-running is fast: each step is skipped when its inputs did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1
quiet() { grep -v -e '^WARNING: Location' -e '^Looking in' -e '^Requirement already satisfied' || true; }
stamp() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -c1-16; }

t0=$(date +%s)
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

s=$(stamp CMakeLists.txt package.xml pyproject.toml msg/*.msg)
if [ "$(cat "$VENV/.stamp-build" 2>/dev/null)" != "$s" ] || ! "$VPY" -c 'import poseflow_ros.msg' 2>/dev/null; then
  echo "[setup] building poseflow_ros (rosidl messages) and installing it editable"
  "$VPY" -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | quiet
  echo "$s" > "$VENV/.stamp-build"
fi

echo "[setup] models"
"$VPY" -m poseflow_ros.models fetch
echo "[setup] done in $(( $(date +%s) - t0 )) s"
