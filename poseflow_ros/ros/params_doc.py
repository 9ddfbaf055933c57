"""The pose_tracker parameter table (Markdown), generated from the settings dataclasses.

    python -m poseflow_ros.ros.params_doc            # print it
    python -m poseflow_ros.ros.params_doc --write    # into README.md, docs/architecture.md
    python -m poseflow_ros.ros.params_doc --check README.md

README.md holds this table between ``<!-- params:begin -->`` and ``<!-- params:end -->``; a test
checks that it is what this module generates, so the documentation cannot drift from the code; so
does docs/architecture.md, one table per node.
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
from .node_settings import NodeSettings, VideoSourceSettings

BEGIN, END = '<!-- params:begin -->', '<!-- params:end -->'
GROUPS = (
    (NodeSettings, ''),
    (PipelineConfig, ''),
    (TrackerConfig, 'tracker.'),
    (PostureConfig, 'posture.'),
    (DepthConfig, 'depth.'),
)


# docs/architecture.md: one generated parameter table per node, between these markers
NODE_GROUPS = {'pose_tracker': GROUPS, 'video_source': ((VideoSourceSettings, ''),)}
ARCH_BEGIN, ARCH_END = '<!-- params:{}:begin -->', '<!-- params:{}:end -->'


def all_specs(groups=GROUPS) -> Iterator[Spec]:
    for cls, prefix in groups:
        yield from specs(cls, prefix)


def _value(v) -> str:
    if isinstance(v, bool):
        return '`true`' if v else '`false`'
    if isinstance(v, str):
        return f'`"{v}"`' if v == '' else f'`{v}`'
    return f'`{v:g}`' if isinstance(v, float) else f'`{v}`'


def markdown_table(groups=GROUPS) -> str:
    rows = [
        '| parameter | default | range / choices | live | description |',
        '|---|---|---|---|---|',
    ]
    for sp in all_specs(groups):
        if sp.choices:
            bounds = ' \\| '.join(str(c) for c in sp.choices)
        elif sp.range:
            bounds = f'{sp.range[0]:g} – {sp.range[1]:g}'
        else:
            bounds = ''
        text = sp.help.replace('|', '\\|')
        rows.append(
            f'| `{sp.name}` | {_value(sp.default)} | {bounds} | {"yes" if sp.live else ""} | '
            f'{text} |'
        )
    return '\n'.join(rows)


def section_of(readme_text: str, begin: str = BEGIN, end: str = END) -> str:
    i, j = readme_text.index(begin) + len(begin), readme_text.index(end)
    return readme_text[i:j].strip()


def with_section(text: str, table: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the part between ``begin`` and ``end`` replaced by ``table``."""
    i, j = text.index(begin) + len(begin), text.index(end)
    return text[:i] + '\n' + table + '\n' + text[j:]


def architecture_sections():
    """(begin marker, end marker, table) of each node's parameter table in docs/architecture.md."""
    for node, groups in NODE_GROUPS.items():
        yield ARCH_BEGIN.format(node), ARCH_END.format(node), markdown_table(groups)


def write(readme: Path, architecture: Path) -> None:
    """Regenerate the tables in README.md and docs/architecture.md."""
    readme.write_text(with_section(readme.read_text(), markdown_table()))
    text = architecture.read_text()
    for begin, end, table in architecture_sections():
        text = with_section(text, table, begin, end)
    architecture.write_text(text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['--write']:
        root = Path(__file__).resolve().parents[2]
        write(root / 'README.md', root / 'docs' / 'architecture.md')
        print('wrote the parameter tables of README.md and docs/architecture.md')
        return 0
    if argv[:1] == ['--check']:
        ok = section_of(Path(argv[1]).read_text()) == markdown_table()
        print(
            'parameter table up to date'
            if ok
            else f'{argv[1]}: parameter table differs; regenerate with '
            'python -m poseflow_ros.ros.params_doc --write'
        )
        return 0 if ok else 1
    print(markdown_table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
