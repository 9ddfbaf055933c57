"""One definition per setting.

Type, default, range or choices, help and whether it may change live.

Every configuration dataclass (:class:`~poseflow_ros.pipeline.PipelineConfig`,
:class:`~poseflow_ros.track.TrackerConfig`, :class:`~poseflow_ros.analytics.PostureConfig` and the
ROS node's own settings) declares its fields with :func:`setting`. Everything else is derived from
that metadata: the ROS parameter descriptors (type, range, description, read-only), validation of
values given at start-up or with ``ros2 param set``, and the documentation in ``config/*.yaml``
(a test keeps the YAML in step). No ROS types here.

``live=True`` means the running pipeline/node applies a new value at once; other settings are read
when the node is configured (lifecycle ``configure``), e.g. models and devices.
"""

from __future__ import annotations

import numbers
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

SCALAR_TYPES = (bool, int, float, str)


@dataclass(frozen=True)
class Spec:
    """What is known about one setting (derived from a dataclass field)."""

    name: str  # full name, e.g. 'tracker.max_age'
    type: type
    default: Any
    help: str
    range: Optional[Tuple[float, float]] = None  # inclusive
    choices: Optional[Tuple[Any, ...]] = None
    live: bool = False

    def check(self, value: Any) -> Any:
        """Return the value cast to the setting's type, or raise ValueError naming the setting."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f'{self.name} must be true or false, got {value!r}')
        elif self.type is int:
            if (
                isinstance(value, numbers.Real)
                and not isinstance(value, bool)
                and float(value).is_integer()
            ):
                value = int(value)  # 7, np.int64(7) and a YAML 7.0 alike
            else:
                raise ValueError(f'{self.name} must be an integer, got {value!r}')
        elif self.type is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f'{self.name} must be a number, got {value!r}')
            value = float(value)
        elif self.type is str and not isinstance(value, str):
            raise ValueError(f'{self.name} must be a string, got {value!r}')
        if self.range is not None:
            lo, hi = self.range
            if not lo <= value <= hi:
                raise ValueError(f'{self.name} = {value!r} is outside [{lo}, {hi}]')
        if self.choices is not None and value not in self.choices:
            raise ValueError(f'{self.name} = {value!r} is not one of {list(self.choices)}')
        return value


def setting(
    default: Any,
    help: str,
    *,
    range: Optional[Tuple[float, float]] = None,  # noqa: A002
    choices: Optional[Sequence[Any]] = None,
    live: bool = False,
):
    """Make a dataclass field carrying its documentation, bounds and live-ness."""
    if type(default) not in SCALAR_TYPES:
        raise TypeError(f'setting defaults must be bool/int/float/str, got {default!r}')
    if choices is not None and default not in choices:
        raise ValueError(f'default {default!r} is not one of {list(choices)}')
    if range is not None and not range[0] <= default <= range[1]:
        raise ValueError(f'default {default!r} is outside {range}')
    meta = {
        'help': help,
        'range': tuple(range) if range is not None else None,
        'choices': tuple(choices) if choices is not None else None,
        'live': bool(live),
    }
    return field(default=default, metadata=meta)


def specs(cls, prefix: str = '') -> Iterator[Spec]:
    """Return the :class:`Spec` of every scalar field of a settings dataclass (no nested dicts)."""
    for f in fields(cls):
        if f.default is MISSING or type(f.default) not in SCALAR_TYPES:
            continue
        m = f.metadata
        if 'help' not in m:
            raise TypeError(f'{cls.__name__}.{f.name} is not declared with settings.setting()')
        yield Spec(
            prefix + f.name,
            type(f.default),
            f.default,
            m['help'],
            m.get('range'),
            m.get('choices'),
            m.get('live', False),
        )


def field_errors(obj) -> List[str]:
    """Return a message per field of a settings dataclass instance that fails its type/range."""
    errs = []
    for sp in specs(type(obj)):
        try:
            sp.check(getattr(obj, sp.name))
        except ValueError as e:
            errs.append(str(e))
    return errs


def check_fields(obj) -> None:
    """Raise ValueError (every failing field's message) unless all fields of ``obj`` pass."""
    errs = field_errors(obj)
    if errs:
        raise ValueError('; '.join(errs))


def spec_map(cls, prefix: str = '') -> Dict[str, Spec]:
    return {s.name: s for s in specs(cls, prefix)}


def check_values(cls, values: Dict[str, Any], what: str) -> Dict[str, Any]:
    """Type/range/choice-check a (partial) dict of settings of ``cls``; unknown keys raise."""
    known = spec_map(cls)
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f'unknown {what} settings: {sorted(unknown)}; known: {sorted(known)}')
    return {k: known[k].check(v) for k, v in values.items()}
