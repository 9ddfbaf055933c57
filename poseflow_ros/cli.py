"""Command-line pieces shared by the tools: the ``-p/--param NAME:=VALUE`` option.

No ROS types: the demo, the bag tool and the soak tool all take extra ``pose_tracker`` parameters
the way ``ros2 run ... --ros-args -p name:=value`` does, and type the values the same way (YAML,
as rcl reads ``-p`` values: ``3`` an int, ``0.5`` a float, ``true`` a bool, ``[1, 2]`` a list,
anything else a string).
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, Iterable, Tuple

PARAM_HELP = 'extra pose_tracker parameter'


def add_param_option(parser: argparse.ArgumentParser, help: str = PARAM_HELP) -> None:
    """Add ``-p/--param NAME:=VALUE`` (repeatable) to ``parser``; the items stay strings."""
    parser.add_argument(
        '-p',
        '--param',
        action='append',
        default=[],
        metavar='NAME:=VALUE',
        help=help,
    )


def parse_param(item: str) -> Tuple[str, Any]:
    """Return ``(name, typed value)`` of one ``NAME:=VALUE`` item.

    Raises ValueError, naming the item, when it has no ``:=`` or no name.
    """
    import yaml

    name, sep, value = item.partition(':=')
    if not sep or not name:
        raise ValueError(f'parameter override {item!r} is not NAME:=VALUE')
    return name, yaml.safe_load(value)


def parse_params(items: Iterable[str]) -> Dict[str, Any]:
    """Return ``{name: typed value}`` of ``NAME:=VALUE`` items, a later one winning.

    Raises ValueError on the first item that is not ``NAME:=VALUE``.
    """
    return dict(parse_param(kv) for kv in items)
