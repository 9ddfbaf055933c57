"""Kalman filter on boxes (poseflow_ros.track.kalman).

The block form against hand-computed values and the textbook 8x8 equations, the measurement weight,
the process-noise scale and the gate.
"""

import numpy as np
import pytest

from poseflow_ros.geometry import xyxy_to_xyah
from poseflow_ros.track.kalman import CHI2INV95, KalmanFilter, full_covariance


def box_at(x, y=100.0, w=50.0, h=150.0):
    return [x, y, x + w, y + h]


def test_kalman_initiate_predict_update_by_hand():
    kf = KalmanFilter()  # wp = 1/20, wv = 1/160
    z0 = np.array([[100.0, 200.0, 0.5, 100.0]])
    mean, cov = kf.initiate(z0)
    P = full_covariance(cov)[0]
    # initial std: 2*wp*h = 10 (x, y, h), 1e-2 (a), 10*wv*h = 6.25 (vx, vy, vh), 1e-5 (va)
    np.testing.assert_allclose(np.diag(P), [100, 100, 1e-4, 100, 39.0625, 39.0625, 1e-10, 39.0625])
    assert np.count_nonzero(P - np.diag(np.diag(P))) == 0

    mean, cov = kf.predict(mean, cov)
    P = full_covariance(cov)[0]
    # x: P_xx + P_vv + (wp h)^2 = 100 + 39.0625 + 25; cross term = P_vv;
    # P_vv + (wv h)^2 = 39.0625 + 0.390625
    assert P[0, 0] == pytest.approx(164.0625)
    assert P[0, 4] == pytest.approx(39.0625) and P[4, 0] == pytest.approx(39.0625)
    assert P[4, 4] == pytest.approx(39.453125)
    assert P[2, 2] == pytest.approx(1e-4 + 1e-4)  # aspect: 1e-2^2 + 1e-2^2 (+ tiny velocity)
    np.testing.assert_allclose(mean[0], [100, 200, 0.5, 100, 0, 0, 0, 0])

    z1 = np.array([[110.0, 200.0, 0.5, 100.0]])
    mean2, cov2 = kf.update(mean, cov, z1)
    s = 164.0625 + 25.0  # S_x = P_xx + (wp h)^2
    assert mean2[0, 0] == pytest.approx(100 + 164.0625 / s * 10)
    assert mean2[0, 4] == pytest.approx(39.0625 / s * 10)  # velocity gain = P_xv / S_x
    P2 = full_covariance(cov2)[0]
    assert P2[0, 0] == pytest.approx(164.0625 - 164.0625**2 / s)
    assert P2[4, 4] == pytest.approx(39.453125 - 39.0625**2 / s)


def test_kalman_matches_full_matrix_formulas():
    """Block implementation == textbook 8x8 equations (computed here with plain numpy)."""
    rng = np.random.default_rng(1)
    kf = KalmanFilter()
    mean, cov = kf.initiate(np.array([[50.0, 60.0, 0.4, 120.0], [300.0, 200.0, 0.6, 80.0]]))
    mean[:, 4:] = rng.normal(size=(2, 4))
    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    H = np.eye(4, 8)
    for _ in range(3):
        P = full_covariance(cov)
        m_new, c_new = kf.predict(mean, cov)
        z = mean[:, :4] + rng.normal(0, 2, (2, 4)) * [1, 1, 0.01, 1]
        m_up, c_up = kf.update(m_new, c_new, z)
        for i in range(2):
            h = mean[i, 3]
            Q = np.diag(np.square([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]))
            Pp = F @ P[i] @ F.T + Q
            np.testing.assert_allclose(full_covariance(c_new)[i], Pp, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(m_new[i], F @ mean[i])
            hp = m_new[i, 3]
            S = H @ Pp @ H.T + np.diag(np.square([hp / 20, hp / 20, 1e-1, hp / 20]))
            K = Pp @ H.T @ np.linalg.inv(S)
            np.testing.assert_allclose(m_up[i], m_new[i] + K @ (z[i] - H @ m_new[i]), rtol=1e-10)
            np.testing.assert_allclose(
                full_covariance(c_up)[i], Pp - K @ S @ K.T, rtol=1e-8, atol=1e-10
            )
            d = z[i] - H @ m_new[i]
            assert kf.gating_distance(m_new, c_new, z)[i, i] == pytest.approx(
                d @ np.linalg.inv(S) @ d
            )
        mean, cov = m_up, c_up


def test_gating_rejects_far_detection():
    kf = KalmanFilter()
    mean, cov = kf.initiate(xyxy_to_xyah(np.array([box_at(100)])))
    mean, cov = kf.predict(mean, cov)
    near = xyxy_to_xyah(np.array([box_at(103)]))
    far = xyxy_to_xyah(np.array([box_at(200)]))
    d2 = kf.gating_distance(mean, cov, np.concatenate([near, far]))
    assert d2[0, 0] < CHI2INV95[4] < d2[0, 1]


def test_kalman_measurement_weight_and_noise_scale_by_hand():
    """std_weight_measurement sets R and the initial position std; noise_scale scales Q's stds."""
    kf = KalmanFilter(
        std_weight_position=1 / 160, std_weight_velocity=1 / 640, std_weight_measurement=0.065
    )
    z = np.array([[100.0, 200.0, 0.5, 100.0]])
    mean, cov = kf.initiate(z)
    assert full_covariance(cov)[0, 0, 0] == pytest.approx((2 * 0.065 * 100) ** 2)
    assert full_covariance(cov)[0, 4, 4] == pytest.approx((10 / 640 * 100) ** 2)
    m1, c1 = kf.predict(mean, cov)
    m3, c3 = kf.predict(mean, cov, noise_scale=np.array([3.0]))
    q = (100 / 160) ** 2
    p_no_q = full_covariance(c1)[0, 0, 0] - q
    assert full_covariance(c3)[0, 0, 0] == pytest.approx(p_no_q + 9 * q)
    np.testing.assert_allclose(m1, m3)
    # innovation variance = P + R with R = (0.065 h)^2
    assert kf.innovation_variance(m1, c1)[0, 0] == pytest.approx(
        full_covariance(c1)[0, 0, 0] + 6.5**2
    )
    # default (no measurement weight) is DeepSORT: R from std_weight_position
    kd = KalmanFilter()
    assert kd.std_weight_measurement == kd.std_weight_position
