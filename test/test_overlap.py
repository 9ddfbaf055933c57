"""poseflow_ros.overlap: the second stage runs in order, at most one item in it.

Errors do not stop it, and the two stages really run at the same time.
"""

import threading
import time

from poseflow_ros.overlap import SecondStage


def test_order_and_at_most_two_in_flight():
    done, running = [], []
    lock = threading.Lock()
    peak = [0]

    def second(i):
        with lock:
            running.append(i)
            peak[0] = max(peak[0], len(running))
        time.sleep(0.01)
        with lock:
            running.remove(i)
            done.append(i)

    st = SecondStage(second)
    handed_while_busy = 0
    for i in range(30):
        handed_while_busy += st.busy()
        assert st.hand(i, timeout=5)
    st.wait_idle(5)
    st.close()
    assert done == list(range(30))
    assert peak[0] == 1
    assert handed_while_busy > 20  # the caller really worked while the second stage ran


def test_hand_returns_only_when_taken():
    gate = threading.Event()
    st = SecondStage(lambda i: gate.wait(5))
    assert st.hand('a', timeout=1)  # taken at once by the idle worker
    t0 = time.perf_counter()
    assert not st.hand('b', timeout=0.2)  # worker still busy with 'a': not taken, withdrawn
    assert time.perf_counter() - t0 >= 0.19
    gate.set()
    assert st.wait_idle(5)
    st.close()


def test_error_skips_item_and_worker_continues():
    errors, done = [], []

    def second(i):
        if i == 2:
            raise ValueError('bad frame')
        done.append(i)

    st = SecondStage(second, on_error=errors.append)
    for i in range(5):
        st.hand(i, timeout=5)
    st.wait_idle(5)
    st.close()
    assert done == [0, 1, 3, 4] and len(errors) == 1 and 'bad frame' in str(errors[0])
    assert not st.hand(9, timeout=0.1)  # closed: refused


def test_stages_overlap_in_time():
    # 20 items, 20 ms in each stage: sequential 0.8 s, overlapped ~0.42 s
    st = SecondStage(lambda i: time.sleep(0.02))
    t0 = time.perf_counter()
    for i in range(20):
        time.sleep(0.02)  # the caller's first stage
        st.hand(i, timeout=5)
    st.wait_idle(5)
    elapsed = time.perf_counter() - t0
    st.close()
    assert elapsed < 0.65, elapsed


def test_governor_turns_on_when_behind_and_off_when_keeping_up():
    from poseflow_ros.overlap import OverlapGovernor

    g = OverlapGovernor(window=10, on_fraction=0.8, off_fraction=0.3, min_dwell=30)
    # keeping up (had to wait for every frame): never on
    assert not any(g.picked(False) for _ in range(200)) and g.switches == 0
    # behind: on at the 8th waiting frame of the window of 10 (the first switch needs no dwell)
    seen = [g.picked(True) for _ in range(10)]
    assert seen.index(True) == 7 and all(seen[7:]) and g.switches == 1
    # keeping up again: off only after the dwell (30 frames since the switch)
    seen = [g.picked(False) for _ in range(40)]
    # (2 frames of the dwell already passed in the loop above)
    assert seen.index(False) == 27 and not any(seen[27:]) and g.switches == 2
    # 8 of 10 frames waiting is enough, 7 is not
    g2 = OverlapGovernor(window=10, min_dwell=0)
    assert not any(g2.picked(i % 10 < 7) for i in range(100))
    g3 = OverlapGovernor(window=10, min_dwell=0)
    assert any(g3.picked(i % 10 < 8) for i in range(10))


def test_governor_does_not_flap_at_the_pipelines_speed():
    """A source right at the sequential speed: the waiting fraction swings, the dwell bounds it."""
    import random

    from poseflow_ros.overlap import OverlapGovernor

    rnd = random.Random(0)
    g = OverlapGovernor(window=25, min_dwell=100)
    for _ in range(1000):
        g.picked(rnd.random() < (0.9 if not g.on else 0.1))  # on: keeps up; off: behind
    assert 1 <= g.switches <= 1000 // 100 + 1
