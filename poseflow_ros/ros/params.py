"""Parameter declaration with descriptors, and QoS from parameters."""
from __future__ import annotations

from typing import Any, Dict

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}


class ParameterError(ValueError):
    """A parameter has a bad value; the message names it and the fix."""


def declare(node, name: str, default: Any, description: str, read_only: bool = True,
            choices=None, range_=None):
    """Declare one parameter with a descriptor; returns its (type-checked) value."""
    d = ParameterDescriptor(description=description + (f' One of: {", ".join(choices)}.' if choices else ''),
                            type=_TYPES[type(default)], read_only=read_only)
    if range_ is not None:
        lo, hi = range_
        if isinstance(default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
        else:
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
    node.declare_parameter(name, default, d)
    value = node.get_parameter(name).value
    if choices is not None and value not in choices:
        raise ParameterError(f"parameter '{name}' = {value!r} is not one of {list(choices)}; "
                             f'fix it in the params file or with -p {name}:=<value>')
    return value


def declare_group(node, prefix: str, defaults: Dict[str, Any], help_: Dict[str, str]) -> Dict[str, Any]:
    """Declare prefix.key for every key of a dataclass dict (scalars only); returns the values."""
    out = {}
    for k, v in defaults.items():
        if type(v) not in _TYPES:
            continue
        out[k] = declare(node, f'{prefix}.{k}', v, help_.get(k, f'{prefix} setting {k}'))
    return out


def make_qos(reliability: str, depth: int) -> QoSProfile:
    """Sensor-data style QoS (keep-last, volatile) with a chosen reliability."""
    rel = {'best_effort': ReliabilityPolicy.BEST_EFFORT, 'reliable': ReliabilityPolicy.RELIABLE}
    if reliability not in rel:
        raise ParameterError(f"qos_reliability must be 'best_effort' or 'reliable', got {reliability!r}")
    if depth < 1:
        raise ParameterError(f'qos_depth must be >= 1, got {depth}')
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=rel[reliability],
                      durability=DurabilityPolicy.VOLATILE)
