"""ROS parameters generated from the settings dataclasses, and QoS helpers.

The dataclasses are described with :mod:`poseflow_ros.settings`.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from ..deprecation import warn_renamed
from ..settings import Spec, spec_map, specs

_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


class ParameterError(ValueError):
    """A parameter has a bad value; the message names it and the fix."""


def describe(spec: Spec, runtime_note: bool = True) -> ParameterDescriptor:
    """Build the ROS descriptor of a setting: type, description (+ choices if any), range."""
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
    """Declare one parameter per setting of ``cls`` (named ``prefix + field``).

    Returns their specs.
    """
    out = {}
    for sp in specs(cls, prefix):
        node.declare_parameter(sp.name, sp.default, describe(sp, runtime_note))
        out[sp.name] = sp
    return out


def declare_renamed(node, renamed: Mapping[str, str]) -> None:
    """Declare the old name of each renamed setting (``{old: new}``) as a parameter, unset.

    A params file or ``-p`` that still uses the old name is then accepted, and
    :func:`read_settings` (given the same ``renamed``) takes its value for the new name.
    """
    for old, new in renamed.items():
        d = ParameterDescriptor(
            description=f'Old name of {new}: still accepted (with a warning) when set; use {new}.',
            dynamic_typing=True,
        )
        node.declare_parameter(old, None, d)


def read_settings(
    node,
    cls,
    prefix: str = '',
    pending: Optional[Dict[str, Any]] = None,
    renamed: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Read the current parameter values of the settings of ``cls``, checked.

    A ParameterError names the fix.

    ``pending`` ({full name: value}) overrides them: the values a parameter set is about to make.
    ``renamed`` ({old name: new name}, declared with :func:`declare_renamed`): an old name that has
    a value gives the new name its value (warned once); an error when the new name, too, is set to
    a value other than its default and the old one's (the new name at its default cannot be told
    apart from the new name not set, so the old name wins then).
    """
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
    known = spec_map(cls, prefix)
    for old, new in (renamed or {}).items():
        value = pending[old] if old in pending else node.get_parameter(old).value
        if value is None:  # not set: the usual case
            continue
        sp = known[new]
        if warn_renamed(old, new, 'parameter'):
            node.get_logger().warning(f'parameter {old} was renamed to {new}: please use {new}')
        try:
            value = sp.check(value)
        except ValueError as e:
            raise ParameterError(f'parameter {e} (given as {old}, its old name)')
        key = new[len(prefix) :]
        if out[key] != sp.default and out[key] != value:
            raise ParameterError(
                f'parameters {old} (the old name of {new}) = {value!r} and {new} = {out[key]!r} '
                f'disagree; set only {new}'
            )
        out[key] = value
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
    """Choose the reliability an 'auto' subscription uses for these publishers.

    ``publisher_infos`` is a TopicEndpointInfo list. 'reliable' when every one is reliable,
    'best_effort' when any is not, None when there are none.
    """
    if not publisher_infos:
        return None
    rel = {i.qos_profile.reliability for i in publisher_infos}
    return 'reliable' if rel == {ReliabilityPolicy.RELIABLE} else 'best_effort'
