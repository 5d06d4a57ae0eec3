"""Checked exercises: the learner writes the code the lesson just explained, the course checks it.

In a notebook, an exercise is a function the learner completes between the markers, then
one call::

    def gradient_descent(grad, w0, lr, steps):
        ### BEGIN SOLUTION
        ...
        ### END SOLUTION

    gradient_descent = ck.exercise.check("01.gradient_descent", gradient_descent)

:func:`check` runs the learner's function on the exercise's cases and compares each
result with the oracle's: a library (``torch.optim``), coursekit's own tested
implementation, or a closed form. It prints how many cases matched and, for the first
that did not, the inputs, the expected and the received values and a hint; shapes, dtypes
and NaNs get their own messages, and an exception in the learner's code is shown as the
learner's. A solved exercise returns the learner's function; an unsolved or wrong one
returns the oracle's, and says so, so that the rest of the notebook still runs.

A prediction asks for a number instead: the learner writes it before the run computes it,
:func:`predict` takes it down, and :func:`reveal`, after the cell that measures it, compares
the two within the prediction's tolerance::

    ### BEGIN SOLUTION
    predicted_mean = (prior_a + heads) / (prior_a + prior_b + heads + tails)
    ### END SOLUTION
    ck.exercise.predict("04.posterior_mean", predicted_mean)
    ...
    ck.exercise.reveal("04.posterior_mean", svi_mean)

Each exercise is defined once, in the module of its notebook's topic
(``coursekit/exercise/gradient_descent.py`` for 01), with its cases, its oracle and at
least two plausible wrong answers, which the tests make sure the check rejects. Each check
records its outcome in ``exercises.json`` beside the results files
(``claims.results_dir()``): ``python -m coursekit progress`` reads it.
"""

from __future__ import annotations

import datetime as _dt
import json
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from coursekit import claims
from coursekit.exercise.compare import compare, short

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLVED, WRONG, NOT_SOLVED = "solved", "wrong", "not solved"


@dataclass(frozen=True)
class Case:
    """One set of inputs, with a few words that say what it is.

    ``oracle_context``, when given, is what the oracle needs beside the learner's arguments
    and the learner's function never sees: the loss whose gradient the learner is handed,
    the same kernel in scikit-learn's algebra, the whole batch's gradient. The check passes
    it to the reference as the keyword ``context``."""

    label: str
    args: tuple
    shown: str = ""  # the inputs as a learner reads them (defaults to the label)
    oracle_context: object = None


@dataclass(frozen=True)
class Exercise:
    name: str  # "01.gradient_descent": the notebook's number, then the function's name
    what: str  # what the learner writes, in a few words
    oracle: str  # what the answer is compared with
    reference: Callable  # the oracle as a function of the same arguments
    cases: Callable[[], Sequence[Case]]  # built when checked (tensors, seeded)
    hint: str
    wrong: tuple[Callable, ...] = ()  # plausible wrong answers, which the check must reject
    rtol: float = 1e-10
    atol: float = 1e-12
    # the reference the notebook goes on with when the learner's code is not right; by
    # default the oracle itself
    fallback: Callable | None = field(default=None, compare=False)

    @property
    def notebook(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Prediction:
    """A number the learner predicts before a cell of the notebook measures it.

    The learner writes the value (reasoning from the lesson, not running code);
    :func:`predict` takes it down, and :func:`reveal`, once the run has measured the number,
    compares the two. ``examples`` gives, at the notebook's default parameters, the right
    prediction and plausible wrong ones: the tests make sure ``rtol`` accepts the first and
    rejects the others, and the instructor's run that the right one matches what it measures.
    """

    name: str
    what: str  # the question, in a few words
    measured_by: str  # what the run measures
    hint: str  # the reasoning that gives the number
    rtol: float  # how close counts: above the run's noise, below the gap to the wrong answers
    examples: Callable[[], tuple[float, tuple[float, ...]]]

    @property
    def notebook(self) -> str:
        return self.name.split(".", 1)[0]


EXERCISES: dict[str, Exercise | Prediction] = {}


def register(exercise: Exercise | Prediction) -> Exercise | Prediction:
    if exercise.name in EXERCISES:
        raise ValueError(f"exercise {exercise.name!r} is defined twice")
    EXERCISES[exercise.name] = exercise
    return exercise


def _load_all() -> None:
    # one module per topic; importing it registers its exercises
    from coursekit.exercise import (  # noqa: F401
        gan,
        gaussian_processes,
        gradient_descent,
        horovod,
        large_batch,
        probabilistic_programming,
        stochastic_adaptive,
        svi_coin_toss,
        transfer_learning,
        vae,
    )


def get(name: str) -> Exercise | Prediction:
    _load_all()
    if name not in EXERCISES:
        raise ValueError(
            f"no exercise named {name!r}; the exercises are: {', '.join(sorted(EXERCISES))}"
        )
    return EXERCISES[name]


def in_notebook(number: str) -> list[str]:
    """The names of notebook ``number``'s exercises ("04"), in the order of the lesson."""
    _load_all()
    return [n for n, e in EXERCISES.items() if e.notebook == number]


def optimizer_path(make, grads, w0) -> torch.Tensor:
    """The iterates of the optimiser ``make([param])`` stepped once per gradient function in
    ``grads`` (each called at the current point): an oracle for optimisers from scratch."""
    p = torch.nn.Parameter(w0.clone())
    opt = make([p])
    path = [w0.clone()]
    for grad in grads:
        p.grad = grad(p.detach()).clone()
        opt.step()
        path.append(p.detach().clone())
    return torch.stack(path)


# --- the check ----------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    status: str  # SOLVED, WRONG or NOT_SOLVED
    passed: int
    total: int
    message: str  # what check printed

    def __bool__(self) -> bool:
        return self.status == SOLVED


def evaluate(exercise: Exercise, fn: Callable) -> Outcome:
    """Run ``fn`` on every case of ``exercise``; the outcome and what to tell the learner."""
    cases = list(exercise.cases())
    passed, first = 0, None
    for case in cases:
        if case.oracle_context is None:
            expected = exercise.reference(*case.args)
        else:
            expected = exercise.reference(*case.args, context=case.oracle_context)
        try:
            received = fn(*case.args)
        except NotImplementedError:
            return Outcome(
                exercise.name,
                NOT_SOLVED,
                0,
                len(cases),
                f"{exercise.name}: not solved yet (the stub raises NotImplementedError). "
                f"Write {exercise.what}.",
            )
        except Exception as err:  # the learner's error, shown as theirs
            lines = _your_lines(err)
            return Outcome(
                exercise.name,
                WRONG,
                passed,
                len(cases),
                f"{exercise.name}: your code raised {type(err).__name__}: {err}\n"
                f"  on the case {case.label} ({case.shown or 'see the hint'})"
                + ("\n" + "\n".join(lines) if lines else "")
                + f"\n  hint: {exercise.hint}",
            )
        problem = compare(expected, received, exercise.rtol, exercise.atol)
        if problem:
            first = first or (case, expected, received, problem)
        else:
            passed += 1
    if first is None:
        return Outcome(
            exercise.name,
            SOLVED,
            passed,
            len(cases),
            f"{exercise.name}: solved: {passed} of {len(cases)} cases match {exercise.oracle}.",
        )
    case, expected, received, problem = first
    return Outcome(
        exercise.name,
        WRONG,
        passed,
        len(cases),
        f"{exercise.name}: {passed} of {len(cases)} cases match {exercise.oracle}. "
        f"The first that does not: {case.label}"
        + (f" ({case.shown})" if case.shown else "")
        + f"\n  {problem}\n  expected: {short(expected)}\n  received: {short(received)}"
        f"\n  hint: {exercise.hint}",
    )


def _your_lines(err: BaseException) -> list[str]:
    """The learner's lines in the traceback (frames outside coursekit and the libraries)."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [
        f
        for f in frames
        if "coursekit" not in Path(f.filename).parts and "site-packages" not in f.filename
    ]
    return [f"  in {f.name}, line {f.lineno}: {(f.line or '').strip()}" for f in mine]


def check(name: str, fn: Callable) -> Callable:
    """Check the learner's ``fn`` for exercise ``name``; return it if right, else the oracle.

    Prints what happened and records it for ``python -m coursekit progress``."""
    exercise = get(name)
    if isinstance(exercise, Prediction):
        raise TypeError(f"{name} is a prediction: ck.exercise.predict({name!r}, your_number)")
    outcome = evaluate(exercise, fn)
    print(outcome.message)
    if not outcome:
        print(
            f"(the rest of the notebook goes on with the course's own {exercise.name.split('.')[1]}"
            f": {exercise.oracle})"
        )
    record(outcome)
    return fn if outcome else (exercise.fallback or exercise.reference)


# --- predictions ------------------------------------------------------------------

_PREDICTED: dict[str, object] = {}  # name -> the learner's number, in this kernel


def predict(name: str, value) -> None:
    """Take down the learner's prediction for ``name``; :func:`reveal` compares it later."""
    prediction = get(name)
    if not isinstance(prediction, Prediction):
        raise TypeError(f"{name} is not a prediction: ck.exercise.check({name!r}, your_function)")
    _PREDICTED[name] = value
    if value is None:
        print(f"{name}: no prediction yet. {prediction.what}")
    else:
        print(f"{name}: your prediction, {short(value)}, is taken down; the run measures it below.")


def judge(prediction: Prediction, value, measured: float) -> Outcome:
    """The outcome of predicting ``value`` when the run measured ``measured``."""
    name, rel = prediction.name, f"{prediction.rtol:.0%}"
    if value is None:
        return Outcome(
            name,
            NOT_SOLVED,
            0,
            1,
            f"{name}: not solved yet (no prediction was made). The run measured "
            f"{measured:.4g} ({prediction.measured_by}).\n  hint: {prediction.hint}",
        )
    try:
        guess = float(value)
    except (TypeError, ValueError):
        return Outcome(
            name, WRONG, 0, 1, f"{name}: a prediction is one number; received {short(value)}"
        )
    off = abs(guess - measured) / abs(measured) if measured else abs(guess)
    if off <= prediction.rtol:
        return Outcome(
            name,
            SOLVED,
            1,
            1,
            f"{name}: solved: you predicted {guess:.4g}, the run measured {measured:.4g} "
            f"({prediction.measured_by}): {off:.1%} apart, within {rel}.",
        )
    return Outcome(
        name,
        WRONG,
        0,
        1,
        f"{name}: you predicted {guess:.4g}, the run measured {measured:.4g} "
        f"({prediction.measured_by}): {off:.1%} apart, more than {rel}.\n"
        f"  hint: {prediction.hint}",
    )


def reveal(name: str, measured: float) -> Outcome:
    """Compare the learner's prediction for ``name`` with what the run ``measured``; print
    and record the outcome."""
    prediction = get(name)
    if name not in _PREDICTED:
        raise RuntimeError(
            f"{name}: no prediction was taken down in this session: run the cell with "
            f"ck.exercise.predict({name!r}, ...) first"
        )
    outcome = judge(prediction, _PREDICTED[name], float(measured))
    print(outcome.message)
    record(outcome)
    return outcome


# --- progress -------------------------------------------------------------------------


def progress_file() -> Path:
    return claims.results_dir() / "exercises.json"


def record(outcome: Outcome) -> None:
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        done = {}  # a file broken by an interrupted write: start again
    done[outcome.name] = {
        "status": outcome.status,
        "cases": f"{outcome.passed}/{outcome.total}",
        "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(done, indent=2, sort_keys=True))
    tmp.replace(path)


def progress_report() -> str:
    """Per notebook, the exercises solved and not yet solved, from what the runs recorded."""
    _load_all()
    path = progress_file()
    done = json.loads(path.read_text()) if path.is_file() else {}
    lines = []
    for notebook in sorted({e.notebook for e in EXERCISES.values()}):
        names = [n for n, e in EXERCISES.items() if e.notebook == notebook]  # lesson order
        solved = [n for n in names if done.get(n, {}).get("status") == SOLVED]
        lines.append(f"notebook {notebook}: {len(solved)} of {len(names)} solved")
        for n in names:
            status = done.get(n, {}).get("status", "not run yet")
            lines.append(f"  {'x' if n in solved else ' '} {n}: {status}")
    shown = path.relative_to(claims.REPO) if path.is_relative_to(claims.REPO) else path
    lines.append(f"(from {shown})")
    return "\n".join(lines)
