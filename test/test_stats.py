"""Statistics of the node and the benchmarks (poseflow_ros.stats).

Stage timings, track summaries, log throttling and frame-loss counting, all in bounded memory.
LossMonitor's gap counting is also covered with the node in test_node_lifecycle.py.
"""

import os
import tracemalloc

import numpy as np
import pytest

from poseflow_ros import stats
from poseflow_ros.stats import LogThrottle, LossMonitor, StageStats, TrackSummary

CORE_FILE = os.path.join('poseflow_ros', 'stats.py')
assert stats.__file__.endswith(CORE_FILE)


def test_stats_stay_bounded_over_many_frames():
    """2000 frames (and 5000 more) through the node's statistics: every structure stays bounded.

    The summaries are still those of every frame.
    """
    rng = np.random.default_rng(0)
    st, ts = StageStats(maxlen=2000), TrackSummary(recent=100, id_window=100)
    persons = []
    next_id = 1
    live = []

    def frame():
        nonlocal next_id, live
        live = [i for i in live if rng.random() > 0.05]
        while len(live) < rng.integers(0, 6):
            live.append(next_id)
            next_id += 1
        st.add({'decode': 1.0, 'detect': float(rng.uniform(5, 10)), 'total': 20.0})
        st.count('processed')
        ts.add(live)
        persons.append(len(live))

    for _ in range(2000):
        frame()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(5000):
        frame()
    grown = sum(
        s.size_diff
        for s in tracemalloc.take_snapshot().compare_to(before, 'filename')
        if s.traceback[0].filename.endswith(CORE_FILE)
    )
    tracemalloc.stop()
    assert grown < 64 * 1024, grown  # bytes, after 5000 more frames
    assert max(st.sizes().values()) == 2000
    sz = ts.sizes()
    assert sz['recent_ids'] == 100 and sz['seen_ids'] <= 200 and sz['histogram'] <= 7
    s = st.summary()
    assert s['total']['n'] == 7000 and s['total']['mean'] == pytest.approx(20.0)
    r = ts.report()
    ppf = r['persons_per_frame']
    assert ppf['frames'] == 7000 and ppf['mean'] == pytest.approx(np.mean(persons))
    assert ppf['max'] == max(persons) and sum(ppf['histogram'].values()) == 7000
    assert r['track_ids']['distinct'] == next_id - 1 == r['track_ids']['highest']
    assert r['track_ids']['recent'][-1] == next_id - 1


def test_track_summary_counts_late_reported_ids_once():
    ts = TrackSummary()
    for ids in ([], [1, 2], [2, 4], [3, 4], [1, 3, 4], [7]):
        ts.add(ids)
    r = ts.report()
    assert r['track_ids'] == {'distinct': 5, 'highest': 7, 'recent': [1, 2, 4, 3, 7]}
    assert r['persons_per_frame']['histogram'] == {'0': 1, '1': 1, '2': 3, '3': 1}


def test_stage_stats_lifetime_mean_window_percentiles_and_last():
    st = StageStats(maxlen=4)
    for v in (100.0, 1.0, 2.0, 3.0, 4.0):  # the first sample falls out of the window
        st.add({'pose': v})
    st.add({'detect': 7.0})
    st.count('processed')
    st.count('dropped', 3)
    s = st.summary()
    assert s['pose']['n'] == 5 and s['pose']['mean'] == pytest.approx(22.0)  # lifetime
    assert s['pose']['p50'] == pytest.approx(2.5)  # window 1, 2, 3, 4
    assert s['pose']['p99'] == pytest.approx(np.percentile([1, 2, 3, 4], 99))
    assert s['detect'] == {'mean': 7.0, 'p50': 7.0, 'p90': 7.0, 'p99': 7.0, 'n': 1}
    last = st.summary(last=2)['pose']
    assert last['n'] == 2 and last['mean'] == pytest.approx(3.5)
    assert dict(st.counters) == {'processed': 1, 'dropped': 3}
    assert st.sizes() == {'pose': 4, 'detect': 1}


def test_log_throttle_one_message_per_period_per_kind():
    now = [0.0]
    th = LogThrottle(period=2.0, clock=lambda: now[0])
    assert th.allow('decode') == (True, 0)
    assert th.allow('size') == (True, 0)  # another kind is not held back
    now[0] = 1.0
    assert th.allow('decode') == (False, 0)
    assert th.allow('decode') == (False, 0)
    now[0] = 2.0  # a full period after the last logged one
    assert th.allow('decode') == (True, 2)  # two held back since
    assert th.allow('decode') == (False, 0)
    assert (th.logged, th.suppressed) == (3, 3)


def test_loss_monitor_text_and_restart():
    m = LossMonitor()
    t = 10.0
    for i in range(30):
        t += 0.1 * (4 if i == 20 else 1)  # one gap of 3 missing frames
        m.received(t)
    m.lost_by_transport(2)
    assert m.lost == 3 and m.summary_text() == (
        '3 of 33 image frames were lost before reaching the node (middleware: 2, stamp gaps: 3)'
    )
    m.restart()
    m.received(t + 100.0)  # after a restart the pause is not a gap
    m.received(t + 100.1)
    assert m.gap_missing == 3 and not m.significant()
