#!/usr/bin/env bash
# GPU checks in one go, on a machine with Python 3.12 + torch/CUDA and ./.gpu carried (see
# tools/gpu/prepare_carry.sh): the CUDA tests (CUDA graphs, device crops, BlazePose port vs TFLite on
# CUDA FP32/FP16, MMPose on CUDA vs inference_topdown, the torch detector vs onnxruntime), then the
# pipeline benchmark on CUDA. Logs and JSON go to $OUT (default out/gpu).
#   [BENCH_ARGS="--variants graphs"] bash tools/gpu/run_checks.sh [TEST_TIMEOUT_S] [BENCH_TIMEOUT_S]
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
t0=$(date +%s)
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl \
  2>&1 | grep -v -e '^WARNING' -e 'dependency conflicts' -e 'requires' || true
export PYTHONPATH=/tmp/site:$PWD/.gpu:$PWD${PYTHONPATH:+:$PYTHONPATH}
export POSEFLOW_SHARED=$PWD/.gpu/shared POSEFLOW_MODELS=$PWD/.gpu/models PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
"$PY" - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
import torch, numpy, cv2
from poseflow_ros.pose import mmpose_compat  # noqa: F401
import mmpose, onnxruntime
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), '| numpy', numpy.__version__,
      '| opencv', cv2.__version__, '| mmpose', mmpose.__version__, '| onnxruntime', onnxruntime.__version__,
      onnxruntime.get_available_providers())
PY
echo "[gpu] setup $(( $(date +%s) - t0 )) s"
timeout "${1:-240}" "$PY" -m pytest -q -p no:cacheprovider -rs ${TESTS:-test/test_cuda_graph.py test/test_device_warp.py \
  test/test_blazepose_port.py test/test_mmpose_backend.py test/test_detector_torch.py \
  test/test_pose_heatmap.py} \
  2>&1 | tee "$OUT/pytest.log" | grep -v -i warning | tail -25
echo "[gpu] tests done at $(( $(date +%s) - t0 )) s"
timeout "${2:-330}" "$PY" tools/bench_pipeline.py --devices cuda --no-node --iters 100 --budget 0.6 \
  --backends mmpose:rtmpose-m blazepose:torch mmpose:rtmpose-t mmpose:hrnet-w32 --out "$OUT/pipeline_gpu.json" ${BENCH_ARGS:-} \
  2>&1 | grep -v -i -e warning -e 'autocast' -e 'pkg_resources' | tee "$OUT/bench.log"
echo "[gpu] all done at $(( $(date +%s) - t0 )) s"
