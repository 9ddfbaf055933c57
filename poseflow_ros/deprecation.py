"""Old names of renamed settings and arguments: still accepted, with a warning once per name.

A rename keeps old configurations working for a while: the old name maps to the new one and the
first use of it warns (a :class:`FutureWarning`, shown by default, unlike DeprecationWarning, since
the people who see it are users with an old params file, not developers). No ROS types here.
"""

from __future__ import annotations

import warnings
from typing import Optional, Set, Tuple

_warned: Set[Tuple[str, str]] = set()


def warn_renamed(old: str, new: str, what: str = 'setting') -> bool:
    """Warn, once per ``(old, new)`` pair in this process, that ``old`` is now called ``new``.

    Returns True when this call warned (False: already warned before).
    """
    if (old, new) in _warned:
        return False
    _warned.add((old, new))
    warnings.warn(
        f'the {what} {old!r} was renamed to {new!r}; the old name still works but will be '
        f'removed: use {new!r}',
        FutureWarning,
        stacklevel=3,
    )
    return True


def renamed_argument(new_value, old_value: Optional[object], old: str, new: str):
    """Return argument ``new``'s value, or its old name ``old``'s when a caller still passes that.

    ``old_value`` is None when the old name was not given.
    """
    if old_value is None:
        return new_value
    warn_renamed(old, new, 'argument')
    return old_value
