"""Box geometry (poseflow_ros.geometry): IoU and the xyxy / xywh / xyah conversions."""

import numpy as np

from poseflow_ros.geometry import (
    iou_matrix,
    iou_matrix_xywh,
    outside_fraction,
    xyah_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_xyah,
    xyxy_to_xywh,
)


def test_iou_matrix_values_shape_and_symmetry():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [100, 100, 110, 110]], float)
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3) and iou.dtype == np.float64
    np.testing.assert_allclose(iou, [[50 / 150, 1, 0], [0, 0, 0]])
    np.testing.assert_allclose(iou_matrix(b, a), iou.T)
    # a box inside another: intersection = the small one's area
    assert iou_matrix([0, 0, 10, 10], [[2, 2, 7, 7]])[0, 0] == 25 / 100
    # empty inputs and degenerate (zero-area) boxes do not divide by zero
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    assert iou_matrix([5, 5, 5, 5], [5, 5, 5, 5])[0, 0] == 0.0


def test_iou_matrix_xywh_is_iou_of_the_converted_boxes():
    a = np.array([[0, 0, 10, 10]], float)  # x y w h
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10]], float)
    np.testing.assert_allclose(iou_matrix_xywh(a, b), [[50 / 150, 1.0]])


def test_box_conversions_by_hand_and_round_trips():
    b = np.array([[10.0, 20.0, 60.0, 170.0], [-5.0, 0.0, 15.0, 40.0]])
    np.testing.assert_allclose(xyxy_to_xyah(b), [[35, 95, 50 / 150, 150], [5, 20, 0.5, 40]])
    np.testing.assert_allclose(xyxy_to_xywh(b), [[10, 20, 50, 150], [-5, 0, 20, 40]])
    np.testing.assert_allclose(xywh_to_xyxy([10, 20, 50, 150]), [[10, 20, 60, 170]])
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(b)), b)
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(b)), b)
    for f in (xyxy_to_xyah, xyah_to_xyxy, xyxy_to_xywh, xywh_to_xyxy):
        out = f(np.array([[1, 2, 3, 4]], np.float32))
        assert out.dtype == np.float64 and out.shape == (1, 4)
        assert f(np.zeros((0, 4))).shape == (0, 4)


def test_xyxy_to_xyah_keeps_empty_boxes_finite():
    out = xyxy_to_xyah([[10, 10, 20, 10]])  # zero height
    assert np.isfinite(out).all() and out[0, 3] == 1e-6


def test_outside_fraction():
    b = np.array(
        [[-10, 0, 10, 10], [0, 0, 10, 10], [630, 470, 650, 490], [700, 0, 710, 10], [5, 5, 5, 9]]
    )
    np.testing.assert_allclose(outside_fraction(b, 640, 480), [0.5, 0.0, 0.75, 1.0, 1.0])
