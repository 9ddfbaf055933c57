"""ROS parameters from the settings dataclasses (poseflow_ros.ros.params), with a stand-in node.

Descriptors (type, range, choices, live note), reading and checking values, old names of renamed
settings, and the QoS helpers. The node itself is tested in test_ros_nodes.py and
test_node_lifecycle.py.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy

from poseflow_ros import deprecation
from poseflow_ros.ros.params import (
    ParameterError,
    declare_renamed,
    declare_settings,
    describe,
    make_qos,
    offered_reliability,
    read_settings,
)
from poseflow_ros.settings import setting, spec_map


@dataclass
class Demo:
    rate: float = setting(2.5, 'Frames per second.', range=(0.0, 10.0), live=True)
    count: int = setting(3, 'How many.', range=(1, 9))
    mode: str = setting('a', 'Which mode.', choices=('a', 'b'))
    fast: bool = setting(False, 'Go fast.')


class FakeNode:
    """What params.py uses of an rclpy node: declare_parameter, get_parameter, get_logger."""

    def __init__(self, overrides=None):
        self.values, self.descriptors, self.warnings = {}, {}, []
        self.overrides = dict(overrides or {})

    def declare_parameter(self, name, value, descriptor):
        self.values[name] = self.overrides.get(name, value)
        self.descriptors[name] = descriptor

    def get_parameter(self, name):
        return SimpleNamespace(value=self.values[name])

    def get_logger(self):
        return SimpleNamespace(warning=self.warnings.append)


def test_describe_types_ranges_choices_and_live_note():
    sp = spec_map(Demo)
    d = describe(sp['rate'])
    assert d.type == ParameterType.PARAMETER_DOUBLE and not d.read_only
    r = d.floating_point_range[0]
    assert (r.from_value, r.to_value) == (0.0, 10.0) and not d.integer_range
    assert d.description == 'Frames per second. Live: a change applies from the next frame.'
    d = describe(sp['count'])
    assert d.type == ParameterType.PARAMETER_INTEGER
    assert (d.integer_range[0].from_value, d.integer_range[0].to_value) == (1, 9)
    assert d.description.endswith('Read at configure: change it while the node is unconfigured.')
    d = describe(sp['mode'], runtime_note=False)
    assert (
        d.type == ParameterType.PARAMETER_STRING and d.description == 'Which mode. One of: a, b.'
    )
    assert describe(sp['fast']).type == ParameterType.PARAMETER_BOOL


def test_declare_and_read_with_prefix_and_pending_values():
    node = FakeNode({'demo.count': 5})
    specs = declare_settings(node, Demo, 'demo.')
    assert set(specs) == {'demo.rate', 'demo.count', 'demo.mode', 'demo.fast'}
    assert node.values['demo.rate'] == 2.5
    got = read_settings(node, Demo, 'demo.')
    assert got == {'rate': 2.5, 'count': 5, 'mode': 'a', 'fast': False}
    assert read_settings(node, Demo, 'demo.', {'demo.mode': 'b'})['mode'] == 'b'
    assert read_settings(node, Demo, 'demo.', {'demo.count': 7.0})['count'] == 7  # YAML 7.0


@pytest.mark.parametrize(
    'name,value,msg',
    [
        ('demo.rate', 11.0, 'outside'),
        ('demo.mode', 'c', 'not one of'),
        ('demo.count', 2.5, 'must be an integer'),
        ('demo.fast', 1, 'true or false'),
    ],
)
def test_bad_values_name_the_parameter_and_the_fix(name, value, msg):
    node = FakeNode()
    declare_settings(node, Demo, 'demo.')
    with pytest.raises(ParameterError, match=msg) as e:
        read_settings(node, Demo, 'demo.', {name: value})
    assert f'-p {name}:=<value>' in str(e.value)


def test_an_old_parameter_name_sets_the_new_one():
    saved = set(deprecation._warned)
    deprecation._warned.clear()
    try:
        renamed = {'speed': 'rate'}
        node = FakeNode({'speed': 4.0})
        declare_settings(node, Demo)
        declare_renamed(node, renamed)
        d = node.descriptors['speed']
        assert d.dynamic_typing and 'Old name of rate' in d.description
        assert read_settings(node, Demo)['rate'] == 2.5  # without the mapping: ignored
        with pytest.warns(FutureWarning, match="'speed' was renamed to 'rate'"):
            assert read_settings(node, Demo, renamed=renamed)['rate'] == 4.0
        assert node.warnings == ['parameter speed was renamed to rate: please use rate']
        read_settings(node, Demo, renamed=renamed)
        assert len(node.warnings) == 1  # warned once
        with pytest.raises(ParameterError, match='disagree'):
            read_settings(node, Demo, pending={'rate': 3.0}, renamed=renamed)
        with pytest.raises(ParameterError, match='outside'):
            read_settings(node, Demo, pending={'speed': 12.0}, renamed=renamed)
        unset = FakeNode()
        declare_settings(unset, Demo)
        declare_renamed(unset, renamed)
        assert unset.values['speed'] is None
        assert read_settings(unset, Demo, renamed=renamed)['rate'] == 2.5
    finally:
        deprecation._warned.clear()
        deprecation._warned.update(saved)


def test_make_qos_and_offered_reliability():
    q = make_qos('best_effort', 3)
    assert (q.reliability, q.depth, q.history, q.durability) == (
        ReliabilityPolicy.BEST_EFFORT,
        3,
        HistoryPolicy.KEEP_LAST,
        DurabilityPolicy.VOLATILE,
    )
    assert make_qos('reliable', 1).reliability == ReliabilityPolicy.RELIABLE
    with pytest.raises(ParameterError):
        make_qos('auto', 5)  # 'auto' is resolved before a profile is made
    with pytest.raises(ParameterError):
        make_qos('reliable', 0)

    def info(rel):
        return SimpleNamespace(qos_profile=SimpleNamespace(reliability=rel))

    rel, be = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT
    assert offered_reliability([]) is None
    assert offered_reliability([info(rel), info(rel)]) == 'reliable'
    assert offered_reliability([info(rel), info(be)]) == 'best_effort'
