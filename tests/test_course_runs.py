"""The scheduling of the notebook runs beside nbval (course_runs.py), with stand-in runs."""

import threading
import time

import course_runs
import pytest


def test_a_run_alone_waits_for_the_shared_ones_and_holds_back_new_ones():
    gate = course_runs.Gate()
    events = []
    inside = threading.Event()

    def shared(name, hold):
        with gate.shared():
            inside.set()
            events.append(f"{name} starts")
            time.sleep(hold)
            events.append(f"{name} ends")

    first = threading.Thread(target=shared, args=("first", 0.3))
    first.start()
    inside.wait()
    gate.hold_alone()  # returns once the first shared run has ended
    events.append("alone starts")
    second = threading.Thread(target=shared, args=("second", 0))
    second.start()
    time.sleep(0.2)  # the second shared run must not start meanwhile
    events.append("alone ends")
    gate.release_alone()
    for thread in (first, second):
        thread.join(timeout=5)
    assert events == [
        "first starts",
        "first ends",
        "alone starts",
        "alone ends",
        "second starts",
        "second ends",
    ]


@pytest.fixture
def stand_ins():
    """Runs that record that they started, and return their kind and notebook:
    (what started, the runs by kind)."""
    started = []

    def make(kind):
        def run(stem):
            started.append((kind, stem))
            return kind, stem

        return run

    return started, {kind: make(kind) for kind in course_runs.KINDS}


def test_a_claims_run_waits_for_nbvals_run_of_its_notebook(stand_ins):
    started, kinds = stand_ins
    background = course_runs.Background(kinds)
    jobs = [("claims", "01_gradient_descent"), ("null", "01_gradient_descent")]
    background.start(jobs, nbval_stems={"01_gradient_descent"}, workers=1)
    deadline = time.time() + 5
    while not started and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    # the null run went first: the claims run must wait until nbval is done with 01
    assert started == [("null", "01_gradient_descent")]
    background.nbval_finished("01_gradient_descent")
    assert background.result("claims", "01_gradient_descent") == ("claims", "01_gradient_descent")
    assert started[-1] == ("claims", "01_gradient_descent")


def test_a_run_nobody_planned_runs_when_asked_for(stand_ins):
    started, kinds = stand_ins
    background = course_runs.Background(kinds)
    assert background.result("null", "04_svi_coin_toss") == ("null", "04_svi_coin_toss")
    assert started == [("null", "04_svi_coin_toss")]


def test_the_plan_leaves_timed_claims_runs_to_their_tests():
    selected = {
        "claims": {"01_gradient_descent", "10_horovod"},
        "null": {"01_gradient_descent", "10_horovod"},
    }
    jobs = course_runs.plan(selected)
    assert ("claims", "10_horovod") not in jobs  # it runs alone, when its test asks
    assert jobs == [
        ("claims", "01_gradient_descent"),
        ("null", "10_horovod"),  # the longest null runs first
        ("null", "01_gradient_descent"),
    ]
