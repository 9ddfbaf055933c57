#!/usr/bin/env bash
# One-time (idempotent) setup of ./.venv-bench: the PEER trackers that tools/bench_tracking.py compares
# ours with (boxmot ByteTrack / BoT-SORT / OC-SORT, norfair, deep-sort-realtime) plus TrackEval (the
# reference HOTA implementation our own HOTA is checked against). Kept apart from ./.venv on purpose:
# boxmot is AGPL-3.0 and its pins clash with norfair's (numpy, rich); none of these is a dependency of
# poseflow_ros. The peers only ever run as a subprocess (tools/bench_peers_runner.py).
#
# Install order matters: torch==2.13.0 (local CPU wheel) FIRST, so that nothing pulls a CUDA torch;
# then the plain dependencies; then the peers with --no-deps (boxmot wants torchvision, timm, gdown,
# huggingface-hub for its ReID models, which are never used here: ReID is off and nothing is downloaded;
# PyPI torchvision does not import beside torch 2.13.0, so the runner installs an import stand-in).
# Re-running is instant while this file is unchanged (stamp file .venv-bench/.stamp).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${BENCH_VENV:-.venv-bench}
export PIP_DISABLE_PIP_VERSION_CHECK=1
s=$(sha256sum "$0" | cut -c1-16)
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$s" ]; then
  echo "[bench-venv] up to date ($VENV)"; exit 0
fi
t0=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
q() { grep -v -e '^WARNING: Location' -e '^Looking in' -e '^Requirement already satisfied' || true; }
echo "[bench-venv] torch==2.13.0 (CPU) first"
"$VPY" -m pip install -q torch==2.13.0 2>&1 | q
echo "[bench-venv] plain dependencies of the peers and of TrackEval"
"$VPY" -m pip install -q 'numpy>=2.2,<2.3' 'scipy>=1.11' 'filterpy>=1.4.5,<2' 'lapx>=0.5.5,<1' \
  'opencv-python-headless>=4.8,<5' 'pandas>=2,<3' 'scikit-learn>=1.3,<2' 'rich>=13' 'tqdm' 'platformdirs' \
  'typing-extensions' 'click' 'tabulate' 'pyyaml' 'pycocotools' 'torch==2.13.0' 2>&1 | q
echo "[bench-venv] peers (--no-deps, pinned)"
"$VPY" -m pip install -q --no-deps boxmot==25.0.0 norfair==2.3.0 deep-sort-realtime==1.3.2 trackeval==1.3.0 2>&1 | q
"$VPY" - <<'PY'
import torch, numpy, norfair, deep_sort_realtime, trackeval  # noqa: F401
print('[bench-venv] torch', torch.__version__, 'numpy', numpy.__version__)
PY
echo "$s" > "$VENV/.stamp"
echo "[bench-venv] done in $(( $(date +%s) - t0 )) s"
