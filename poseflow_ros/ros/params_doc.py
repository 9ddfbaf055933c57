"""The pose_tracker parameter table (Markdown), generated from the settings dataclasses.

    python -m poseflow_ros.ros.params_doc            # print it
    python -m poseflow_ros.ros.params_doc --check README.md

README.md holds this table between ``<!-- params:begin -->`` and ``<!-- params:end -->``; a test checks
that it is what this module generates, so the documentation cannot drift from the code.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

from ..analytics import PostureConfig
from ..depth import DepthConfig
from ..pipeline import PipelineConfig
from ..settings import Spec, specs
from ..track import TrackerConfig
from .node_settings import NodeSettings

BEGIN, END = '<!-- params:begin -->', '<!-- params:end -->'
GROUPS = ((NodeSettings, ''), (PipelineConfig, ''), (TrackerConfig, 'tracker.'), (PostureConfig, 'posture.'),
          (DepthConfig, 'depth.'))


def all_specs() -> Iterator[Spec]:
    for cls, prefix in GROUPS:
        yield from specs(cls, prefix)


def _value(v) -> str:
    if isinstance(v, bool):
        return '`true`' if v else '`false`'
    if isinstance(v, str):
        return f'`"{v}"`' if v == '' else f'`{v}`'
    return f'`{v:g}`' if isinstance(v, float) else f'`{v}`'


def markdown_table() -> str:
    rows = ['| parameter | default | range / choices | live | description |', '|---|---|---|---|---|']
    for sp in all_specs():
        if sp.choices:
            bounds = ' \\| '.join(str(c) for c in sp.choices)
        elif sp.range:
            bounds = f'{sp.range[0]:g} – {sp.range[1]:g}'
        else:
            bounds = ''
        text = sp.help.replace('|', '\\|')
        rows.append(f'| `{sp.name}` | {_value(sp.default)} | {bounds} | {"yes" if sp.live else ""} | {text} |')
    return '\n'.join(rows)


def section_of(readme_text: str) -> str:
    i, j = readme_text.index(BEGIN) + len(BEGIN), readme_text.index(END)
    return readme_text[i:j].strip()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--check']:
        ok = section_of(Path(argv[1]).read_text()) == markdown_table()
        print('parameter table up to date' if ok else f'{argv[1]}: parameter table differs; regenerate with '
              'python -m poseflow_ros.ros.params_doc')
        return 0 if ok else 1
    print(markdown_table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
