"""The documentation of the pose_tracker parameters is generated from the settings.

It cannot drift: README's table is what params_doc prints, and config/pose_tracking.yaml marks
exactly the live settings.
"""

import re
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
from poseflow_ros.ros import params_doc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_readme_parameter_table_is_generated_from_the_settings():
    readme = (ROOT / 'README.md').read_text()
    assert params_doc.section_of(readme) == params_doc.markdown_table(), (
        'README parameter table is stale: python -m poseflow_ros.ros.params_doc'
    )
    assert params_doc.main(['--check', str(ROOT / 'README.md')]) == 0


def test_every_setting_has_help_and_a_valid_default():
    names = [sp.name for sp in params_doc.all_specs()]
    assert len(names) == len(set(names)) > 60
    for sp in params_doc.all_specs():
        assert sp.help.strip(), sp.name
        assert sp.check(sp.default) == sp.default
        with pytest.raises(ValueError):
            sp.check(object())


def test_yaml_marks_the_live_settings():
    """Top-level keys of config/pose_tracking.yaml say '[live]' exactly when the setting is live.

    The '[live]' is in the key's comment; tracker.* and posture.* are described per group.
    """
    live = {sp.name: sp.live for sp in params_doc.all_specs() if '.' not in sp.name}
    seen = set()
    for line in (ROOT / 'config' / 'pose_tracking.yaml').read_text().splitlines():
        m = re.match(r'^    (\w+): [^#]*#(.*)$', line)
        if m and m.group(1) in live:
            seen.add(m.group(1))
            assert ('[live]' in m.group(2)) == live[m.group(1)], line
    assert seen == set(live)


def test_video_source_yaml_lists_every_setting_with_its_default():
    import yaml
    from poseflow_ros.ros.node_settings import VideoSourceSettings
    from poseflow_ros.settings import specs

    cfg = yaml.safe_load((ROOT / 'config' / 'video_source.yaml').read_text())['video_source'][
        'ros__parameters'
    ]
    want = {sp.name: sp.default for sp in specs(VideoSourceSettings)}
    assert cfg == want
