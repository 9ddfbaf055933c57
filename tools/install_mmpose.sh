#!/usr/bin/env bash
# Install the MMPose stack (optional pose backend) into the venv of $PY without touching numpy,
# torch or opencv: mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0, mmpose 1.3.2 (--no-deps, their
# runtime deps listed explicitly so that no opencv-python or CUDA torch is pulled in).
# mmcv: the prebuilt wheel from $POSEFLOW_SHARED/wheels when present (compiled ops, built for
# CPython 3.11 + torch 2.13.0), else mmcv-lite 2.1.0 (pure Python; our import stand-ins in
# poseflow_ros/pose/mmpose_compat.py cover the missing compiled ops, unused by top-down pose).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SHARED=${POSEFLOW_SHARED:-../shared}
quiet() { grep -v -e '^WARNING: Location' -e '^Looking in' || true; }
t0=$(date +%s)
pip_i() { "$PY" -m pip install -q --no-deps "$@" 2>&1 | quiet; }
# runtime deps of mmengine/mmcv/mmpose/mmdet, minus opencv-python (we use opencv-python-headless)
"$PY" -m pip install -q 'setuptools>=77.0.3,<82' addict yapf termcolor rich 'matplotlib>=3.7' \
  json-tricks munkres pycocotools shapely terminaltables tqdm six packaging Pillow scipy cython 2>&1 | quiet
pip_i mmengine==0.10.7
WHEEL="$SHARED/wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl"
if [ -f "$WHEEL" ] && "$PY" -c 'import sys, torch; sys.exit(0 if sys.version_info[:2] == (3, 11) and torch.__version__.startswith("2.13.0") else 1)'; then
  pip_i "$WHEEL"
else
  echo "[mmpose] no prebuilt mmcv wheel for this python/torch: installing mmcv-lite (pose inference only)"
  pip_i mmcv-lite==2.1.0
fi
pip_i mmdet==3.3.0 mmpose==1.3.2
# xtcocotools (imported by mmpose.datasets): its binary wheels are built against numpy 1, so build
# it from the sdist against the venv's numpy 2 (~20 s).
if ! "$PY" -c 'import xtcocotools.mask' 2>/dev/null; then
  "$PY" -m pip install -q cython 2>&1 | quiet
  "$PY" -m pip install -q --no-build-isolation --no-binary xtcocotools --no-deps xtcocotools==1.14.3 2>&1 | quiet
fi
"$PY" -W ignore -c 'import sys; sys.path.insert(0, "."); from poseflow_ros.pose import mmpose_compat; import mmpose.apis; print("[mmpose] import ok")'
echo "[mmpose] installed in $(( $(date +%s) - t0 )) s"
