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


_UNSET = object()


def renamed_argument(new_value, old_value: Optional[object], old: str, new: str, default=_UNSET):
    """Return argument ``new``'s value, or its old name ``old``'s when a caller still passes that.

    ``old_value`` is None when the old name was not given. With ``default`` (the new argument's
    default), a caller that passes both names with different values gets a ValueError instead of
    one of them silently winning, as :meth:`PipelineConfig.from_dict` does for settings.
    """
    if old_value is None:
        return new_value
    if default is not _UNSET and new_value != default and new_value != old_value:
        raise ValueError(
            f'{old}={old_value!r} (the old name of {new}) and {new}={new_value!r} disagree'
        )
    warn_renamed(old, new, 'argument')
    return old_value
