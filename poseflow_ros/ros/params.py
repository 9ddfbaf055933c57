"""ROS parameters generated from the settings dataclasses (poseflow_ros.settings), and QoS helpers."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from ..settings import Spec, specs

_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


class ParameterError(ValueError):
    """A parameter has a bad value; the message names it and the fix."""


def describe(spec: Spec, runtime_note: bool = True) -> ParameterDescriptor:
    """The ROS descriptor of a setting: type, description (+ choices, when it applies), range."""
    text = spec.help
    if spec.choices:
        text += f' One of: {", ".join(map(str, spec.choices))}.'
    if runtime_note:
        text += (
            ' Live: a change applies from the next frame.'
            if spec.live
            else ' Read at configure: change it while the node is unconfigured.'
        )
    d = ParameterDescriptor(description=text, type=_TYPES[spec.type], read_only=False)
    if spec.range is not None:
        lo, hi = spec.range
        if spec.type is float:
            d.floating_point_range = [
                FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)
            ]
        else:
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
    return d


def declare_settings(node, cls, prefix: str = '', runtime_note: bool = True) -> Dict[str, Spec]:
    """Declare one parameter per setting of ``cls`` (named ``prefix + field``); returns their specs."""
    out = {}
    for sp in specs(cls, prefix):
        node.declare_parameter(sp.name, sp.default, describe(sp, runtime_note))
        out[sp.name] = sp
    return out


def read_settings(
    node, cls, prefix: str = '', pending: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """Current parameter values of the settings of ``cls``, checked (ParameterError names the fix).
    ``pending`` ({full name: value}) overrides them: the values a parameter set is about to make."""
    pending = pending or {}
    out = {}
    for sp in specs(cls, prefix):
        value = pending[sp.name] if sp.name in pending else node.get_parameter(sp.name).value
        try:
            out[sp.name[len(prefix) :]] = sp.check(value)
        except ValueError as e:
            raise ParameterError(
                f'parameter {e}; fix it in the params file or with -p {sp.name}:=<value>'
            )
    return out


_REL = {'best_effort': ReliabilityPolicy.BEST_EFFORT, 'reliable': ReliabilityPolicy.RELIABLE}


def make_qos(reliability: str, depth: int) -> QoSProfile:
    """Sensor-data style QoS (keep-last, volatile) with a chosen reliability."""
    if reliability not in _REL:
        raise ParameterError(
            f"qos_reliability must be 'best_effort' or 'reliable', got {reliability!r}"
        )
    if depth < 1:
        raise ParameterError(f'qos_depth must be >= 1, got {depth}')
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=_REL[reliability],
        durability=DurabilityPolicy.VOLATILE,
    )


def offered_reliability(publisher_infos) -> Optional[str]:
    """What an 'auto' subscription should use for these publishers (TopicEndpointInfo list):
    'reliable' when every one is reliable, 'best_effort' when any is not, None when there are none."""
    if not publisher_infos:
        return None
    rel = {i.qos_profile.reliability for i in publisher_infos}
    return 'reliable' if rel == {ReliabilityPolicy.RELIABLE} else 'best_effort'
