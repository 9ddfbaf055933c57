"""One Euro filter for keypoint smoothing, vectorised over arrays.

Casiez, Roussel, Vogel, CHI 2012.

Per sample with time step ``dt`` (seconds) and an optional ``scale`` (the object size, e.g. the
person's box size in pixels):

- speed ``dx = (x - x_prev_raw) / dt / scale``, low-passed with cutoff ``d_cutoff`` -> ``dx_hat``;
- cutoff ``fc = min_cutoff + beta * |dx_hat|`` (Hz);
- ``x_hat = x_hat_prev + alpha(fc, dt) * (x - x_hat_prev)``,
  ``alpha(fc, dt) = 1 / (1 + 1 / (2 pi fc dt))``.

A still keypoint is low-passed at ``min_cutoff`` (jitter removed), a fast one at a high cutoff
(little lag). Dividing the speed by the object size (as MediaPipe's landmark smoothing does with
the person's ROI size) makes ``beta`` independent of the person's distance: a person near the
camera moves more pixels per second for the same motion, and so does its jitter. With that
normalisation ``beta`` is in 1 / (object sizes per second) and MediaPipe's pose values
(``min_cutoff 0.05``, ``beta 80``, ``d_cutoff 1``) are directly comparable. The derivative uses the
previous *raw* value, as MediaPipe does. Each element of ``x`` has its own filter (x and y of a
keypoint are filtered separately).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np


def smoothing_alpha(cutoff, dt):
    """Exponential smoothing factor of a first-order low-pass.

    For ``cutoff`` (Hz) at time step ``dt`` (s).
    """
    r = (2.0 * math.pi) * np.asarray(cutoff, np.float64) * dt
    return r / (1.0 + r)


def one_euro_step(
    x: np.ndarray,
    x_prev: np.ndarray,
    x_hat_prev: np.ndarray,
    dx_hat_prev: np.ndarray,
    dt,
    scale,
    min_cutoff: float,
    beta: float,
    d_cutoff: float,
) -> Tuple[np.ndarray, np.ndarray]:
    """One filter step for already initialised filters.

    ``x``, ``x_prev`` (previous raw value), ``x_hat_prev`` (previous output), ``dx_hat_prev``
    (previous smoothed speed) share one shape; ``dt`` and ``scale`` broadcast against them (e.g.
    ``(T, 1, 1)`` for ``(T, 17, 2)`` keypoints).

    Returns the filtered value and the smoothed speed (in scales per second).
    """
    dt = np.maximum(np.asarray(dt, np.float64), 1e-6)
    dx = (x - x_prev) / (dt * np.maximum(np.asarray(scale, np.float64), 1e-6))
    dx_hat = dx_hat_prev + smoothing_alpha(d_cutoff, dt) * (dx - dx_hat_prev)
    a = smoothing_alpha(min_cutoff + beta * np.abs(dx_hat), dt)
    return x_hat_prev + a * (x - x_hat_prev), dx_hat


class OneEuroFilter:
    """Stateful One Euro filter over a fixed-shape array (one independent filter per element).

    ``valid`` (bool, same shape or broadcastable) marks the elements measured in this sample; an
    invalid element's filter is reset (its output is the raw value and it restarts at the next
    valid sample), as a keypoint that was not visible has no history to smooth with.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError('need min_cutoff > 0, d_cutoff > 0, beta >= 0')
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the history (the next sample is passed through)."""
        self._x_prev = self._x_hat = self._dx_hat = self._ok = None
        self._t: Optional[float] = None

    def __call__(self, x, t: float, scale=1.0, valid=None) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds, increasing).

        Returns the smoothed array.
        """
        x = np.asarray(x, np.float64)
        ok_now = (
            np.ones(x.shape, bool)
            if valid is None
            else np.broadcast_to(np.asarray(valid, bool), x.shape)
        )
        if self._t is None or t <= self._t:
            if self._t is not None:
                raise ValueError(f'time must increase: {t} after {self._t}')
            out = x.copy()
            self._dx_hat = np.zeros_like(x)
        else:
            cont = ok_now & self._ok
            hat, dhat = one_euro_step(
                x,
                self._x_prev,
                self._x_hat,
                self._dx_hat,
                t - self._t,
                scale,
                self.min_cutoff,
                self.beta,
                self.d_cutoff,
            )
            out = np.where(cont, hat, x)
            self._dx_hat = np.where(cont, dhat, 0.0)
        self._x_prev, self._x_hat, self._ok, self._t = (
            x.copy(),
            out.copy(),
            ok_now.copy(),
            float(t),
        )
        return out
