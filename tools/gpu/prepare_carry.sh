#!/usr/bin/env bash
# Prepares ./.gpu (git-ignored through .git/info/exclude) for a run on a GPU machine that has Python 3.12,
# torch+CUDA, OpenCV, onnx and onnxruntime but no OpenMMLab stack and no network (e.g. this workplace's
# lent H100): the MMPose stack and the TFLite reader as Python 3.12 wheels, the models (from the models
# directory, after `make setup`), and the shared photos + demo video. Then run tools/gpu/run_checks.sh
# there with .gpu carried. Needs: PyPI access here, $POSEFLOW_SHARED (default ../shared).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${POSEFLOW_SHARED:-$(cd .. && pwd)/shared}
MODELS=${POSEFLOW_MODELS:-$HOME/.cache/poseflow_ros/models}
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> "$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p .gpu/whl .gpu/models/blazepose .gpu/models/rtmdet_nano_person .gpu/shared/data/images .gpu/shared/data/videos
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/whl \
  mmpose==1.3.2 mmengine==0.10.7 mmcv-lite==2.1.0 mmdet==3.3.0 addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 \
  json-tricks==3.17.3 munkres==3.0.0 platformdirs==4.14.7 pycocotools==2.0.11 shapely==2.2.0 \
  terminaltables==3.1.10 tflite==2.18.0 ai-edge-litert==2.3.0 backports.strenum 2>&1 | grep -v '^WARNING' || true
cp "$MODELS/blazepose/pose_landmark_full.tflite" .gpu/models/blazepose/
cp "$MODELS/rtmdet_nano_person/"{end2end.onnx,pipeline.json,LICENSE} .gpu/models/rtmdet_nano_person/
cp "$SHARED"/data/images/*.jpg .gpu/shared/data/images/
cp "$SHARED"/data/videos/walk.small.mp4 .gpu/shared/data/videos/
# mmpose imports xtcocotools (no cp312 wheel); pycocotools has the same API for what is used here
mkdir -p .gpu/xtcocotools
printf 'from pycocotools import *  # noqa: F401,F403\n' > .gpu/xtcocotools/__init__.py
for m in coco cocoeval mask; do printf 'from pycocotools.%s import *  # noqa: F401,F403\n' $m > .gpu/xtcocotools/$m.py; done
du -sh .gpu
