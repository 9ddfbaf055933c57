# poseflow_ros: `make demo` runs the bundled demo, `make test` runs the tests.
# Both set up ./.venv first (idempotent; see tools/setup_env.sh).
PY ?= .venv/bin/python
export POSEFLOW_SHARED ?= $(abspath ../shared)
# ros2 launch, launch_ros and ament_index find packages through AMENT_PREFIX_PATH; the PyPI ROS wheels
# install the ament index into the venv prefix but do not set it. Prepended to any existing value.
VENV_PREFIX := $(abspath $(dir $(PY))..)
export AMENT_PREFIX_PATH := $(VENV_PREFIX)$(if $(AMENT_PREFIX_PATH),:$(AMENT_PREFIX_PATH))

.PHONY: setup demo test lint bench-pipeline bench-delivery eval-pose bench-tracking clean

setup:
	@bash tools/setup_env.sh

demo: setup
	$(PY) -m poseflow_ros.demo --video $(POSEFLOW_SHARED)/data/videos/walk.small.mp4 --out out/demo

test: setup lint
	$(PY) -m pytest -q test

# Lint gate: ruff (pinned in requirements.txt), configured in pyproject.toml like ament_flake8 and
# ament_pep257 (99 columns, pycodestyle + pyflakes + pep257 docstrings). Fix what it finds with
# `.venv/bin/ruff format .` and `.venv/bin/ruff check --fix .`; the rest by hand.
RUFF ?= $(dir $(PY))ruff
lint: setup
	$(RUFF) check .
	$(RUFF) format --check .

bench-pipeline: setup
	$(PY) tools/bench_pipeline.py $(BENCH_ARGS)

# Paired A/B on a shared CPU: each frame of walk.small.mp4 goes through every configuration in
# turn (same load). Writes out/bench/paired.json. Others: BENCH_ARGS='name:key=value,... name2:...'.
.PHONY: bench-paired
PAIRED_CONFIGS := sequential:pose_runtime=onnxruntime,onnx_passes=false defaults: \
	interval2:detection_interval=2 interval3:detection_interval=3
bench-paired: setup
	$(PY) tools/bench_paired.py $(if $(BENCH_ARGS),$(BENCH_ARGS),$(PAIRED_CONFIGS))

# Image delivery over DDS between processes (640x480 / 1280x720 at 25 Hz, reliable and best-effort cameras):
# the real node with the shipped defaults vs no Fast DDS profile. Writes out/bench/delivery.json.
bench-delivery: setup
	$(PY) tools/bench_delivery.py --node --configs shipped,default $(BENCH_ARGS)

# Accuracy: COCO keypoint AP per BlazePose crop variant and box source, detector recall/precision/AP/ms per
# input size and tiling (mot17-mini, COCO sample), keypoint jitter/lag with and without smoothing, and 3D
# error on the real RGB-D frame and robot bags. Writes out/eval/{pose_ap,detector,smoothing,3d}.json.
eval-pose: setup
	$(PY) tools/eval_pose.py
	$(PY) tools/eval_detector.py
	$(PY) tools/eval_smoothing.py
	$(PY) tools/eval_3d.py

# Tracking benchmark (issue #3): ours vs peer trackers on MOT15 TUD (peers in .venv-bench), plus pipeline
# id churn on the shared videos (BENCH_ARGS=--skip-churn to leave it out). Writes out/bench/tracking.json.
bench-tracking: setup
	bash tools/setup_bench_venv.sh
	$(PY) tools/bench_tracking.py $(BENCH_ARGS)

clean:
	rm -rf build out .pytest_cache

# Soak (issue #11): video_source (25 Hz, looped) -> pose_tracker (CPU) -> a subscriber, for SOAK_S seconds, with
# faults injected every ~25 s (second publisher, burst, parameter changes, 1280x720 frames, lifecycle
# deactivate/activate, camera restart; a bad frame every 3 s). Writes out/soak/summary.json (+ logs);
# exit code 0 only when the goals hold (RSS slope, no unhandled error, node alive, outputs, latency).
SOAK_S ?= 1800
.PHONY: soak
soak: setup
	$(PY) tools/soak.py --seconds $(SOAK_S) --out out/soak $(SOAK_ARGS)
