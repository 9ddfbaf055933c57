"""Evaluation harness (poseflow_ros.eval).

MOT files, metrics vs the MOTChallenge devkit and motmetrics, HOTA on hand-built cases, the seeded
noise generator, the tracker runner. Real data from shared/.
"""

import numpy as np
import pytest

from conftest import need_shared
from poseflow_ros.eval import hota, metrics, mot_io, noise
from poseflow_ros.eval.runner import ours_step, run_tracker


@pytest.fixture(scope='module')
def campus():
    d = need_shared('data/mot15/TUD-Campus')
    return (
        mot_io.read_mot(d / 'gt' / 'gt.txt'),
        mot_io.read_mot(d.parent / 'results' / 'TUD-Campus.txt'),
        mot_io.read_seqinfo(d),
    )


def test_metrics_match_devkit_and_motmetrics(campus):
    gt, res, info = campus
    m = metrics.evaluate(gt, res, info['seq_length'])
    # MOTChallenge devkit values for this result file (also motmetrics' own regression values)
    assert round(m['MOTA'], 1) == 52.6 and round(m['IDF1'], 1) == 55.8
    # motmetrics' own direct computation from the files
    mm = metrics._mm()
    d = need_shared('data/mot15')
    g = mm.io.loadtxt(d / 'TUD-Campus' / 'gt' / 'gt.txt', fmt='mot15-2D', min_confidence=1)
    t = mm.io.loadtxt(d / 'results' / 'TUD-Campus.txt', fmt='mot15-2D')
    acc = mm.utils.compare_to_groundtruth(g, t, 'iou', distth=0.5)
    s = mm.metrics.create().compute(
        acc, metrics=['mota', 'idf1', 'num_switches', 'num_false_positives', 'num_misses']
    )
    assert m['MOTA'] == pytest.approx(100 * s['mota'].iloc[0], abs=1e-9)
    assert m['IDF1'] == pytest.approx(100 * s['idf1'].iloc[0], abs=1e-9)
    assert (m['IDsw'], m['FP'], m['FN']) == (
        s['num_switches'].iloc[0],
        s['num_false_positives'].iloc[0],
        s['num_misses'].iloc[0],
    )
    # HOTA of this file: TrackEval 1.3.0 gives 39.14 / DetA 41.80 / AssA 36.91
    # (tools/bench_tracking.py cross-checks every run against TrackEval in .venv-bench)
    assert (m['HOTA'], m['DetA'], m['AssA']) == pytest.approx((39.14, 41.80, 36.91), abs=0.01)


def test_perfect_tracking_scores_100(campus):
    gt, _, info = campus
    m = metrics.evaluate(gt, gt, info['seq_length'])
    for k in ('MOTA', 'IDF1', 'HOTA', 'DetA', 'AssA', 'LocA'):
        assert m[k] == pytest.approx(100.0), k
    assert (m['IDsw'], m['FP'], m['FN']) == (0, 0, 0)


def _two_people(swap_at, n=10):
    """Make gt ids 1, 2 (boxes far apart, sim 1 when matched).

    The tracker has the same boxes but exchanges its two ids from frame ``swap_at`` on.
    """
    rows_g, rows_t = [], []
    for f in range(1, n + 1):
        for gid, x in ((1, 10.0), (2, 300.0)):
            rows_g.append([f, gid, x, 50, 40, 100, 1, -1, -1, -1])
            tid = gid if f < swap_at else 3 - gid
            rows_t.append([f, tid + 10, x, 50, 40, 100, 1, -1, -1, -1])
    return np.array(rows_g, float), np.array(rows_t, float)


@pytest.mark.parametrize('swap_at, ass_a', [(6, 1 / 3), (9, (16 * 8 / 12 + 4 * 2 / 18) / 20)])
def test_hota_id_swap_by_hand(swap_at, ass_a):
    # every gt box is matched with IoU 1: DetA = 1. A pair (g, t) matched in k of the 10 frames of
    # each has Ass-IoU k / (10 + 10 - k); AssA = mean over the TPs; swap at frame 6: every pair k =
    # 5 -> 1/3; swap at 9: pairs with k = 8 (16 TPs) and k = 2 (4 TPs)
    g, t = _two_people(swap_at)
    m = metrics.evaluate(g, t)
    assert m['DetA'] == pytest.approx(100.0)
    assert m['AssA'] == pytest.approx(100 * ass_a)
    assert m['HOTA'] == pytest.approx(100 * np.sqrt(ass_a))
    assert m['IDsw'] == 2 and m['MOTA'] == pytest.approx(100 * (1 - 2 / 20))


def test_hota_localisation_by_hand():
    # one gt box and one tracker box with IoU 0.6 in every frame: a TP for alpha <= 0.6 (12 of the
    # 19 alphas 0.05..0.95), else one FN + one FP (DetA 0 there); AssA 1 where there are TPs, 0
    # elsewhere
    iou = 0.6
    g = np.array([[f, 1, 0, 0, 100, 100, 1, -1, -1, -1] for f in range(1, 6)], float)
    t = np.array([[f, 7, 0, 0, 100 * iou, 100, 1, -1, -1, -1] for f in range(1, 6)], float)
    r = hota.hota_from_frames([g[i : i + 1] for i in range(5)], [t[i : i + 1] for i in range(5)])
    assert r['DetA'] == pytest.approx(12 / 19)
    assert r['AssA'] == pytest.approx(12 / 19)
    assert r['HOTA'] == pytest.approx(12 / 19)  # sqrt(1 * 1) for 12 alphas, 0 for 7
    # LocA: mean IoU of the TPs per alpha; an alpha without TP counts 1 (TrackEval's convention)
    assert r['LocA'] == pytest.approx((12 * iou + 7) / 19)
    assert np.allclose(r['per_alpha']['DetA'], [1.0] * 12 + [0.0] * 7)


def test_mot_roundtrip_and_seqinfo(campus, tmp_path):
    gt, res, info = campus
    assert info['name'] == 'TUD-Campus' and info['seq_length'] == 71
    # MOT15: conf 1 everywhere
    assert gt.shape == (359, 10) and len(mot_io.evaluated_gt(gt)) == 359
    for rows in (gt, res):
        p = tmp_path / 'x.txt'
        mot_io.write_mot(p, rows)
        back = mot_io.read_mot(p)
        np.testing.assert_allclose(back[:, :6], rows[:, :6], atol=0.006)
        np.testing.assert_allclose(back[:, 6:], rows[:, 6:], rtol=1e-3, atol=1e-3)
    mot_io.write_mot(tmp_path / 'e.txt', np.zeros((0, 10)))
    assert mot_io.read_mot(tmp_path / 'e.txt').shape == (0, 10)
    # ignored gt rows (conf 0) are dropped
    g = gt.copy()
    g[:5, 6] = 0
    assert len(mot_io.evaluated_gt(g)) == len(gt) - 5


def test_noise_generator_deterministic_and_rates(campus):
    gt, _, info = campus
    a = noise.noisy_detections(gt, 3, info['seq_length'])
    b = noise.noisy_detections(gt, 3, info['seq_length'])
    c = noise.noisy_detections(gt, 4, info['seq_length'])
    assert len(a) == 71
    assert all(
        np.array_equal(x.boxes, y.boxes) and np.array_equal(x.scores, y.scores)
        for x, y in zip(a, b)
    )
    assert not all(len(x) == len(y) and np.array_equal(x.boxes, y.boxes) for x, y in zip(a, c))
    # rates over many frames: one fixed box, 4000 frames
    n = 4000
    box = np.array([100.0, 50.0, 80.0, 200.0])  # x, y, w, h
    g = np.array([[f, 1, *box, 1, -1, -1, -1] for f in range(1, n + 1)], float)
    fr = noise.noisy_detections(g, 0, n)
    true = [f.boxes[f.is_true] for f in fr]
    kept = np.array([len(t) for t in true])
    assert kept.mean() == pytest.approx(0.85, abs=0.02)  # 15 % dropped
    n_fp = np.array([(~f.is_true).sum() for f in fr])
    assert n_fp.mean() == pytest.approx(0.3, abs=0.03)  # Poisson(0.3) per frame
    tb = np.concatenate(true)
    cx = (tb[:, 0] + tb[:, 2]) / 2 - (box[0] + box[2] / 2)
    hh = tb[:, 3] - tb[:, 1]
    assert np.std(cx) / box[2] == pytest.approx(0.05, rel=0.1)  # 5 % of the width
    assert np.std(hh) / box[3] == pytest.approx(0.05, rel=0.1)  # 5 % of the height
    ts = np.concatenate([f.scores[f.is_true] for f in fr])
    assert 0.03 < (ts < 0.5).mean() < 0.08  # some true boxes below the default high threshold
    fs = np.concatenate([f.scores[~f.is_true] for f in fr])
    assert fs.min() >= 0.1 and fs.max() <= 0.7
    # ids removed and order shuffled: the first box of a frame is not always the lowest gt id
    two = noise.noisy_detections(
        np.array(
            [[f, i, 100.0 * i, 50, 40, 100, 1, -1, -1, -1] for f in range(1, 201) for i in (1, 2)]
        ),
        0,
        200,
        noise.NoiseConfig(drop_rate=0.0, fp_rate=0.0),
    )
    first_x = np.array([f.boxes[0, 0] for f in two])
    assert 0.3 < (first_x < 150).mean() < 0.7


def test_runner_with_our_tracker(campus):
    gt, _, info = campus
    frames = noise.noisy_detections(
        gt,
        0,
        info['seq_length'],
        noise.NoiseConfig(jitter=0.0, drop_rate=0.0, fp_rate=0.0, score_mean=0.9, score_std=0.0),
    )
    rows, ms = run_tracker(ours_step(), frames)
    assert ms > 0 and rows.shape[1] == 10
    m = metrics.evaluate(gt, rows, info['seq_length'])
    assert m['MOTA'] > 90 and m['IDF1'] > 90 and m['IDsw'] <= 2
