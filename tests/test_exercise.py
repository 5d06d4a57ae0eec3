"""coursekit.exercise: the checks of the learner's code, the learner's notebooks, progress."""

import json

import nbformat
import pytest
import torch

from coursekit import cli, exercise, runner
from coursekit.exercise import student

exercise._load_all()
NAMES = list(exercise.EXERCISES)
CODE = [n for n in NAMES if isinstance(exercise.EXERCISES[n], exercise.Exercise)]
PREDICTIONS = [n for n in NAMES if isinstance(exercise.EXERCISES[n], exercise.Prediction)]


@pytest.mark.parametrize("name", CODE)
def test_the_oracle_passes_and_every_wrong_answer_is_caught(name):
    ex = exercise.get(name)
    if any(case.oracle_context is not None for case in ex.cases()):
        # an oracle that reads what only its cases know cannot be handed to the notebook
        assert ex.fallback, f"{name}: its oracle needs its cases' context: give a fallback"
    else:
        assert exercise.evaluate(ex, ex.reference).status == exercise.SOLVED
    if ex.fallback:  # what the notebook goes on with must be right too
        assert exercise.evaluate(ex, ex.fallback).status == exercise.SOLVED
    assert len(ex.wrong) >= 2, f"{name}: keep at least two plausible wrong answers"
    for i, wrong in enumerate(ex.wrong):
        outcome = exercise.evaluate(ex, wrong)
        assert outcome.status == exercise.WRONG, f"{name}: wrong answer {i} passed"
        assert "hint:" in outcome.message


@pytest.mark.parametrize("name", PREDICTIONS)
def test_a_prediction_accepts_the_right_number_and_rejects_the_wrong_ones(name):
    """At the notebook's defaults: the right prediction matches the exact value, and every
    plausible wrong one is rejected against it. (The instructor's run checks that the right
    one also matches what the run measures: test_notebooks.)"""
    p = exercise.get(name)
    right, wrongs = p.examples()
    assert exercise.judge(p, right, right).status == exercise.SOLVED
    assert len(wrongs) >= 2, f"{name}: keep at least two plausible wrong predictions"
    for wrong in wrongs:
        outcome = exercise.judge(p, wrong, right)
        assert outcome.status == exercise.WRONG, f"{name}: the wrong prediction {wrong} passed"
        assert "hint:" in outcome.message
    # a measured value the run's noise moves by half the tolerance still counts
    assert exercise.judge(p, right, right * (1 + p.rtol / 2)).status == exercise.SOLVED


def test_every_notebook_has_at_least_three_exercises_and_the_course_thirty():
    per_notebook = {}
    for e in exercise.EXERCISES.values():
        per_notebook[e.notebook] = per_notebook.get(e.notebook, 0) + 1
    course = {nb.stem[:2] for nb in runner.course_notebooks()}
    assert {n for n, k in per_notebook.items() if k >= 3} == course, per_notebook
    assert len(exercise.EXERCISES) >= 30 and PREDICTIONS


def test_a_prediction_is_taken_down_then_revealed(results_dir, capsys):
    exercise.predict("04.posterior_mean", None)
    assert "04.posterior_mean: no prediction yet" in capsys.readouterr().out
    outcome = exercise.reveal("04.posterior_mean", 0.53)
    assert outcome.status == exercise.NOT_SOLVED
    assert "not solved yet (no prediction was made). The run measured 0.53" in outcome.message
    exercise.predict("04.posterior_mean", 16 / 30)
    assert exercise.reveal("04.posterior_mean", 0.531)
    assert "you predicted 0.5333, the run measured 0.531" in capsys.readouterr().out
    exercise.predict("04.posterior_mean", 0.6)
    assert not exercise.reveal("04.posterior_mean", 0.531)
    exercise.predict("04.posterior_mean", "about a half")
    assert "a prediction is one number" in exercise.reveal("04.posterior_mean", 0.531).message
    recorded = json.loads((results_dir / "exercises.json").read_text())
    assert recorded["04.posterior_mean"]["status"] == exercise.WRONG
    with pytest.raises(TypeError, match="is a prediction"):
        exercise.check("04.posterior_mean", lambda: 0.5)
    with pytest.raises(TypeError, match="is not a prediction"):
        exercise.predict("04.elbo", 1.0)
    exercise._PREDICTED.pop("08.mu_sd", None)
    with pytest.raises(RuntimeError, match="run the cell with ck.exercise.predict"):
        exercise.reveal("08.mu_sd", 0.2)


def test_a_stub_is_not_solved_and_the_notebook_goes_on_with_the_oracle(results_dir, capsys):
    def gradient_descent(grad, w0, lr, steps):
        raise NotImplementedError("exercise 01.gradient_descent: your code here")

    given = exercise.check("01.gradient_descent", gradient_descent)
    out = capsys.readouterr().out
    assert "01.gradient_descent: not solved yet" in out and "goes on with" in out
    assert given is exercise.get("01.gradient_descent").reference
    recorded = json.loads((results_dir / "exercises.json").read_text())
    assert recorded["01.gradient_descent"]["status"] == exercise.NOT_SOLVED


def test_a_right_answer_is_returned_and_recorded(results_dir, capsys):
    def heavy_ball(grad, w0, lr, beta, steps):
        path, v = [w0], torch.zeros_like(w0)
        for _ in range(steps):
            v = beta * v + grad(path[-1])
            path.append(path[-1] - lr * v)
        return torch.stack(path)

    assert exercise.check("01.heavy_ball", heavy_ball) is heavy_ball
    assert "solved: 3 of 3 cases match torch.optim.SGD" in capsys.readouterr().out
    report = exercise.progress_report()
    assert "notebook 01: 1 of 3 solved" in report and "x 01.heavy_ball: solved" in report


def test_shapes_dtypes_nans_and_none_get_their_own_message():
    want = torch.zeros(3, 2, dtype=torch.float64)
    assert "shape (3, 2)" in exercise.compare(want, torch.zeros(2, 3, dtype=torch.float64), 0, 0)
    assert "dtype torch.float64" in exercise.compare(want, torch.zeros(3, 2), 0, 0)
    nan = torch.full((3, 2), float("nan"), dtype=torch.float64)
    assert "NaN in 6 of 6" in exercise.compare(want, nan, 0, 0)
    assert "return statement" in exercise.compare(want, None, 0, 0)
    assert exercise.compare(want, want.clone(), 0, 0) == ""


def test_the_learners_exception_is_shown_as_theirs_without_paths():
    def gradient_descent(grad, w0, lr, steps):
        return w0 @ torch.ones(7, dtype=w0.dtype)  # a shape error in the learner's line

    outcome = exercise.evaluate(exercise.get("01.gradient_descent"), gradient_descent)
    assert outcome.status == exercise.WRONG
    assert "your code raised RuntimeError" in outcome.message
    assert "in gradient_descent, line" in outcome.message and "w0 @ torch.ones(7" in outcome.message
    assert "/" not in outcome.message.split("raised")[1].split("\n", 2)[-1]  # no file paths


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(ValueError, match="01.gradient_descent"):
        exercise.get("01.gradient")


def test_solutions_become_stubs_and_markers_are_required():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\n\n"
        'f = ck.exercise.check("01.f", f)'
    )
    stubbed, names = student.strip_solutions(source)
    assert names == ["01.f"] and "2 * x" not in stubbed and "BEGIN" not in stubbed
    assert '    raise NotImplementedError("exercise 01.f: your code here")' in stubbed
    with pytest.raises(student.MarkerError, match="marks no solution"):
        student.strip_solutions('def f(x):\n    return x\nf = ck.exercise.check("01.f", f)')
    with pytest.raises(student.MarkerError, match="calls no ck.exercise.check or"):
        student.strip_solutions(
            "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
        )
    prediction = (
        "### BEGIN SOLUTION\nguess = 16 / 30\n### END SOLUTION\n"
        'ck.exercise.predict("04.posterior_mean", guess)'
    )
    stubbed, names = student.strip_solutions(prediction)
    assert names == ["04.posterior_mean"] and "16 / 30" not in stubbed
    assert stubbed.startswith("guess = None  # exercise 04.posterior_mean: your prediction")
    with pytest.raises(student.MarkerError, match="1 '### BEGIN SOLUTION' but 0"):
        student.strip_solutions('### BEGIN SOLUTION\nf = ck.exercise.check("01.f", f)')


def test_the_learners_set_holds_every_exercise_once_and_no_solution(tmp_path, capsys):
    assert cli.main(["student", "--out", str(tmp_path / "student")]) == 0
    made = {}
    for path in sorted((tmp_path / "student").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert exercise.BEGIN not in text and exercise.END not in text, path.name
        for name in student.CHECK_CALL.findall(text):
            assert name not in made, f"{name} is checked in {made.get(name)} and {path.name}"
            made[name] = path.name
            assert path.name.startswith(name.split(".")[0] + "_"), f"{name} in {path.name}"
    assert sorted(made) == sorted(exercise.EXERCISES), "every exercise is in a notebook, once"
    assert f"{len(exercise.EXERCISES)} exercises, in" in capsys.readouterr().out


WITH_EXERCISES = sorted(
    nb for nb in runner.course_notebooks() if any(n.startswith(nb.stem[:2] + ".") for n in NAMES)
)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", WITH_EXERCISES, ids=lambda nb: nb.stem)
def test_the_learners_notebook_runs_and_says_not_solved(
    notebook, tmp_path, results_dir, monkeypatch
):
    """The learner's copy runs to the end on the course's implementations, and every claim
    holds but the timing claims: those measure this machine at this moment, and are held in
    the instructor's run of the same notebook (a timing that lost to a busy CI machine once
    here is not a fault of the learner's copy). The kernel collects failed claims instead of
    stopping at the first, so that a timing cannot hide a real failure after it."""
    monkeypatch.setenv("COURSEKIT_CHECKS", "collect")
    student.write_student_set(runner.NOTEBOOKS, tmp_path / "student")
    nb = tmp_path / "student" / notebook.name
    outcome = runner.execute(nb, "smoke", out_dir=tmp_path / "out")
    checks = json.loads((results_dir / f"{notebook.stem}.json").read_text())["checks"]
    failed = [c["name"] for c in checks if not c["passed"] and c["kind"] != "timing"]
    assert checks and not failed, f"claims that failed in the learner's copy: {failed}"
    if outcome.error:  # only the summary's report of the failed timing claims may stop it
        assert "raised ClaimError" in outcome.error and not failed, outcome.error
    executed = nbformat.read(outcome.output, as_version=4)
    printed = "".join(
        o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs
    )
    names = [n for n, e in exercise.EXERCISES.items() if e.notebook == notebook.stem[:2]]
    for name in names:
        assert f"{name}: not solved yet" in printed
    recorded = json.loads((results_dir / "exercises.json").read_text())
    assert {recorded[n]["status"] for n in names} == {exercise.NOT_SOLVED}
