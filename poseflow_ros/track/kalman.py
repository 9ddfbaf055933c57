"""Constant-velocity Kalman filter on boxes, DeepSORT parametrisation, vectorised over tracks.

State ``(x, y, a, h, vx, vy, va, vh)``: box centre, aspect ratio ``w / h``, height and their
velocities (per frame); measurement ``(x, y, a, h)``. Noise standard deviations are proportional to
the box height (``std_weight_position``, ``std_weight_velocity``) except for the aspect ratio
(small constants), as in DeepSORT, which uses one weight ``wp`` for the process and the measurement
noise; here the measurement weight ``wm`` (``std_weight_measurement``) may differ (``None`` =
``wp``, DeepSORT exactly):

- initial:     std = [2 wm h, 2 wm h, 1e-2, 2 wm h, 10 wv h, 10 wv h, 1e-5, 10 wv h]
- process Q:   std = [wp h, wp h, 1e-2, wp h, wv h, wv h, 1e-5, wv h]
- measurement: std = [wm h, wm h, 1e-1, wm h]

A process weight below the measurement weight smooths jittery boxes (position and size follow the
constant-velocity motion more, single boxes less), which also sharpens the gate and the motion
cost.

**Exact block form.** In this model ``F`` only couples coordinate ``i`` with its velocity
``4 + i``, and the initial covariance, ``Q`` and ``R`` are diagonal, so the 8x8 covariance stays
block-diagonal with four independent 2x2 blocks ``[[p, c], [c, v]]`` (one per measured coordinate)
forever. We store exactly those blocks as ``cov`` of shape ``(T, 3, 4)``: ``cov[:, 0] = p``
(position variance), ``cov[:, 1] = c`` (position-velocity covariance), ``cov[:, 2] = v`` (velocity
variance). Every step is then a handful of element-wise array operations instead of batched 8x8
matrix algebra (no approximation; :func:`full_covariance` expands to the 8x8 matrix). Means are
``(T, 8)``, measurements ``(T, 4)`` / ``(N, 4)``.
"""

from __future__ import annotations

import numpy as np

# 0.95 quantile of the chi-square distribution with N degrees of freedom (N = 1..9).
CHI2INV95 = {
    1: 3.8415,
    2: 5.9915,
    3: 7.8147,
    4: 9.4877,
    5: 11.070,
    6: 12.592,
    7: 14.067,
    8: 15.507,
    9: 16.919,
}


def full_covariance(cov: np.ndarray) -> np.ndarray:
    """Expand block covariances ``(T, 3, 4)`` to the full ``(T, 8, 8)`` matrices."""
    T = len(cov)
    out = np.zeros((T, 8, 8))
    i = np.arange(4)
    out[:, i, i] = cov[:, 0]
    out[:, i, i + 4] = cov[:, 1]
    out[:, i + 4, i] = cov[:, 1]
    out[:, i + 4, i + 4] = cov[:, 2]
    return out


class KalmanFilter:
    """DeepSORT's box Kalman filter.

    All methods work on stacked tracks (see module doc for shapes).
    """

    ndim = 4

    def __init__(
        self,
        std_weight_position: float = 1.0 / 20,
        std_weight_velocity: float = 1.0 / 160,
        dt: float = 1.0,
        std_weight_measurement=None,
    ):
        self.std_weight_position = float(std_weight_position)
        self.std_weight_measurement = float(
            std_weight_position if std_weight_measurement is None else std_weight_measurement
        )
        self.std_weight_velocity = float(std_weight_velocity)
        self.dt = float(dt)

    @staticmethod
    def _var(h: np.ndarray, weight: float, aspect_std: float) -> np.ndarray:
        """(T, 4) variances ``(weight * h)^2`` for x, y, h and ``aspect_std^2`` for a."""
        w2 = weight * weight
        out = np.multiply.outer(h * h, (w2, w2, 0.0, w2))
        out[:, 2] = aspect_std * aspect_std
        return out

    def initiate(self, measurements: np.ndarray):
        """Start tracks from ``(N, 4)`` xyah measurements.

        Zero velocity, height-scaled uncertainty.

        Returns ``mean (N, 8)``, ``cov (N, 3, 4)``.
        """
        z = np.asarray(measurements, np.float64).reshape(-1, 4)
        mean = np.zeros((len(z), 8))
        mean[:, :4] = z
        cov = np.zeros((len(z), 3, 4))
        cov[:, 0] = self._var(z[:, 3], 2 * self.std_weight_measurement, 1e-2)
        cov[:, 2] = self._var(z[:, 3], 10 * self.std_weight_velocity, 1e-5)
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, noise_scale=None):
        """One time step ahead: ``x' = F x``, ``P' = F P F^T + Q(h)`` (``h`` = current height).

        ``noise_scale`` (scalar or ``(T,)``) multiplies the process noise standard deviations per
        track (e.g. larger while a track is unobserved).
        """
        if len(mean) == 0:
            return mean, cov
        h = mean[:, 3]
        if noise_scale is not None:
            h = h * np.asarray(noise_scale, np.float64)  # Q is proportional to h^2
        dt = self.dt
        new_mean = mean.copy()
        new_mean[:, :4] += dt * mean[:, 4:]
        new_cov = cov.copy()
        p, c, v = new_cov[:, 0], new_cov[:, 1], new_cov[:, 2]
        c += dt * v  # c' = c + dt v
        p += dt * (c + c - dt * v)  # p' = p + 2 dt c + dt^2 v   (c already updated)
        p += self._var(h, self.std_weight_position, 1e-2)
        v += self._var(h, self.std_weight_velocity, 1e-5)
        return new_mean, new_cov

    def innovation_variance(self, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """Diagonal of ``S = H P H^T + R`` ``(T, 4)`` (S is diagonal in this model)."""
        return cov[:, 0] + self._var(mean[:, 3], self.std_weight_measurement, 1e-1)

    def update(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray):
        """Correct track ``i`` with measurement ``i``.

        ``K = P H^T S^-1``, ``x += K (z - Hx)``, ``P -= K S K^T``.
        """
        if len(mean) == 0:
            return mean, cov
        z = np.asarray(measurements, np.float64).reshape(-1, 4)
        s = self.innovation_variance(mean, cov)
        p, c, v = cov[:, 0], cov[:, 1], cov[:, 2]
        kp = p / s  # gain rows for position ...
        kv = c / s  # ... and velocity of each coordinate
        innov = z - mean[:, :4]
        new_mean = np.empty_like(mean)
        new_mean[:, :4] = mean[:, :4] + kp * innov
        new_mean[:, 4:] = mean[:, 4:] + kv * innov
        new_cov = np.empty_like(cov)
        new_cov[:, 0] = p - kp * p
        new_cov[:, 1] = c - kp * c
        new_cov[:, 2] = v - kv * c
        return new_mean, new_cov

    def gating_distance(
        self,
        mean: np.ndarray,
        cov: np.ndarray,
        measurements: np.ndarray,
        only_position: bool = False,
    ) -> np.ndarray:
        """Squared Mahalanobis distance ``(T, N)`` of each measurement to each track's projection.

        Compare with :data:`CHI2INV95` for 4 dof, or 2 with ``only_position``.
        """
        z = np.asarray(measurements, np.float64).reshape(-1, 4)
        if len(mean) == 0 or len(z) == 0:
            return np.zeros((len(mean), len(z)))
        k = 2 if only_position else 4
        s = self.innovation_variance(mean, cov)[:, None, :k]
        d = z[None, :, :k] - mean[:, None, :k]
        d *= d
        d /= s
        return d.sum(-1)
