"""coursekit's runtime: profiles, settings, seeds, validation, claims and recorded results."""

import json
import random

import numpy as np
import pytest
import torch

import coursekit as ck
from coursekit import bars, claims


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("COURSEKIT_PROFILE", raising=False)


def make_run(**kwargs):
    kwargs.setdefault("notebook", "unit")
    kwargs.setdefault("quiet", True)
    return ck.setup(**kwargs)


# --- profiles -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["smoke", "lab", "full"])
def test_explicit_profile_is_kept(profile, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "smoke")
    assert ck.resolve_profile(profile) == profile


def test_auto_is_lab_without_cuda(no_cuda):
    assert ck.resolve_profile("auto") == "lab"


def test_auto_is_full_with_cuda(monkeypatch):
    monkeypatch.delenv("COURSEKIT_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ck.resolve_profile("auto") == "full"


def test_environment_variable_overrides_auto(no_cuda, monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "smoke")
    assert ck.resolve_profile("auto") == "smoke"


def test_unknown_profile_names_value_and_choices():
    with pytest.raises(ValueError, match=r"profile='fast' is not allowed.*smoke, lab, full, auto"):
        ck.resolve_profile("fast")


def test_bad_environment_profile_is_named(monkeypatch):
    monkeypatch.setenv("COURSEKIT_PROFILE", "quick")
    with pytest.raises(ValueError, match=r"COURSEKIT_PROFILE='quick'"):
        ck.resolve_profile("auto")


# --- setup and settings -------------------------------------------------------------


def test_setup_picks_profile_settings_and_overrides(results_dir):
    run = make_run(
        profile="lab",
        smoke=dict(steps=10, lr=0.1),
        lab=dict(steps=100, lr=0.1),
        full=dict(steps=1000, lr=0.1),
        overrides=dict(steps=None, lr=0.5),  # None keeps the profile's value
    )
    assert (run.profile, run.steps, run.lr) == ("lab", 100, 0.5)
    assert run.device == torch.device("cpu") or torch.cuda.is_available()


def test_run_is_frozen_and_names_missing_settings(results_dir):
    run = make_run(profile="smoke", smoke=dict(steps=1), lab=dict(steps=2), full=dict(steps=3))
    with pytest.raises(AttributeError, match=r"no setting 'epochs'.*\['steps'\]"):
        _ = run.epochs
    with pytest.raises(AttributeError):
        run.profile = "full"


def test_settings_must_cover_every_profile(results_dir):
    with pytest.raises(ValueError, match=r"not for \['full'\]"):
        make_run(profile="lab", smoke=dict(steps=1), lab=dict(steps=2))


def test_settings_must_name_the_same_keys(results_dir):
    with pytest.raises(ValueError, match="different keys"):
        make_run(profile="lab", smoke=dict(steps=1), lab=dict(steps=2), full=dict(epochs=3))


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_bad_seed_is_named(seed, results_dir):
    with pytest.raises(ValueError, match=r"seed=.* is not allowed: it must be an integer >= 0"):
        make_run(profile="smoke", seed=seed)


def test_cuda_device_without_cuda_is_refused(no_cuda, results_dir):
    with pytest.raises(ValueError, match=r"device='cuda' is not allowed: CUDA is not available"):
        make_run(profile="smoke", device="cuda")


def test_same_seed_same_draws_from_every_generator(results_dir):
    def draws(seed):
        make_run(profile="smoke", seed=seed)
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_setup_prints_one_environment_line(results_dir, capsys):
    ck.setup("smoke", seed=0, notebook="unit")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert "python" in lines[0] and "torch" in lines[0] and "profile smoke" in lines[0]


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: ck.validate.integer("steps", -5, minimum=1), r"steps=-5 .* integer >= 1"),
        (lambda: ck.validate.integer("steps", 2.5, minimum=1), r"steps=2.5 .* integer"),
        (lambda: ck.validate.integer("steps", True, minimum=1), r"steps=True .* integer"),
        (lambda: ck.validate.positive("prior_a", 0.0), r"prior_a=0.0 .* number > 0"),
        (lambda: ck.validate.positive("prior_a", float("nan")), r"prior_a=nan"),
        (lambda: ck.validate.positive("lr", "fast"), r"lr='fast' .* number > 0"),
        (lambda: ck.validate.non_negative("decay", -1e-3), r"decay=-0.001 .* >= 0"),
        (
            lambda: ck.validate.in_interval("beta", 1.0, 0, 1, closed="left"),
            r"beta=1.0 .* \[0, 1\)",
        ),
        (
            lambda: ck.validate.one_of("kernel", "rbf2", ["rbf", "matern"]),
            r"kernel='rbf2' .* 'rbf'",
        ),
    ],
)
def test_validation_names_parameter_value_and_rule(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_validation_returns_accepted_values():
    assert ck.validate.integer("steps", np.int64(3), minimum=1) == 3
    assert ck.validate.positive("lr", 1) == 1.0
    assert ck.validate.in_interval("beta", 0.0, 0, 1, closed="left") == 0.0


# --- claims -------------------------------------------------------------------------


def test_tolerance_by_profile_falls_back_to_nearest_profile():
    tol = dict(smoke=0.05, lab=0.01)
    assert claims.by_profile("tol", tol, "smoke") == 0.05
    assert claims.by_profile("tol", tol, "full") == 0.01
    assert claims.by_profile("tol", dict(smoke=0.05, full=0.001), "lab") == 0.05
    assert claims.by_profile("tol", dict(full=0.1), "smoke") == 0.1
    assert claims.by_profile("tol", 0.2, "lab") == 0.2
    with pytest.raises(ValueError, match="no value for any profile"):
        claims.by_profile("tol", {}, "lab")
    with pytest.raises(ValueError, match="unknown profiles"):
        claims.by_profile("tol", dict(fast=0.1), "lab")


@pytest.mark.parametrize(
    ("kwargs", "value", "passed"),
    [
        (dict(expected=1.0, tol=0.1), 1.05, True),
        (dict(expected=1.0, tol=0.1), 1.2, False),
        (dict(expected=1.0, tol=0.1), float("nan"), False),
        (dict(at_least=dict(smoke=0.5, lab=0.9)), 0.7, True),  # smoke's bar
        (dict(at_most=2.0), 2.5, False),
        (dict(at_least=0.0), float("inf"), False),
    ],
)
def test_claim_evaluation(kwargs, value, passed):
    assert claims.evaluate("x", value, "smoke", **kwargs).passed is passed


def test_claim_needs_exactly_one_form():
    with pytest.raises(ValueError, match="exactly one"):
        claims.evaluate("x", 1.0, "lab", expected=1.0, tol=0.1, at_least=0.0)
    with pytest.raises(ValueError, match="needs a tolerance"):
        claims.evaluate("x", 1.0, "lab", expected=1.0)


def test_failed_claim_explains_itself_and_is_recorded(results_dir):
    run = make_run(profile="lab")
    with pytest.raises(ck.ClaimError) as info:
        run.check(
            "posterior mean",
            0.56,
            expected=0.5333,
            tol=dict(smoke=0.05, lab=0.01),
            hint="More steps.",
        )
    message = str(info.value)
    assert "'lab' profile" in message and "posterior mean = 0.56" in message
    assert "expected 0.5333 ± 0.01" in message and "More steps." in message
    recorded = json.loads((results_dir / "unit.json").read_text())
    assert recorded["checks_passed"] == 0 and recorded["checks_total"] == 1
    assert recorded["checks"][0]["passed"] is False


def test_results_file_holds_checks_metrics_timings_and_header(results_dir):
    run = make_run(profile="smoke", seed=7)
    run.check("accuracy", 0.93, at_least=dict(smoke=0.5, lab=0.9))
    run.check("accuracy", 0.95, at_least=dict(smoke=0.5, lab=0.9))  # a re-run cell replaces it
    run.record("final_loss", np.float32(0.25))
    run.record_time("train", 1.23456)
    data = json.loads((results_dir / "unit.json").read_text())
    assert (data["notebook"], data["profile"], data["seed"]) == ("unit", "smoke", 7)
    assert [c["value"] for c in data["checks"]] == [0.95]
    assert data["checks"][0]["bar"] == 0.5
    assert data["metrics"] == {"final_loss": 0.25}
    assert data["timings_s"] == {"train": 1.2346}
    assert data["wall_time_s"] >= 0 and "torch" in data["versions"]


def test_summary_lists_every_check_with_its_kind_and_bar(results_dir, capsys):
    run = make_run(profile="smoke")
    run.check("a", 1.0, expected=1.0, tol=0.0)
    run.identity("b = b", 3.0, at_most=4.0)
    table = run.summary().frame()
    assert list(table["check"]) == ["a", "b = b"] and (table["passed"] == "yes").all()
    assert list(table["kind"]) == ["measured", "identity"]
    assert list(table["bar"]) == ["1 ± 0", "<= 4"]
    printed = capsys.readouterr().out
    # where the results went, without the machine's absolute path
    assert "2 checks (1 identity, 1 measured) recorded in" in printed
    assert str(results_dir) not in printed


def test_summary_text_is_not_cut_short(results_dir):
    run = make_run(profile="smoke")
    name = "a claim with a long name, " * 4
    run.check(name, 0.5, at_least=0.1)
    text = repr(run.summary())
    assert name in text and "..." not in text and ">= 0.1" in text
    assert name in run.summary()._repr_html_()


# --- kinds of claims, collect mode and the null run -----------------------------------


def test_claim_kind_is_recorded_and_checked(results_dir):
    run = make_run(profile="lab")
    run.identity("scratch = library", 0.0, at_most=1e-12)
    run.check("fit time", 2.0, at_most=5.0, kind="timing")
    run.check("accuracy", 0.9, at_least=0.8)
    recorded = json.loads((results_dir / "unit.json").read_text())
    assert [c["kind"] for c in recorded["checks"]] == ["identity", "timing", "measured"]
    assert [c["form"] for c in recorded["checks"]] == ["at_most", "at_most", "at_least"]
    with pytest.raises(ValueError, match="kind='exact' is not allowed"):
        run.check("x", 1.0, at_most=2.0, kind="exact")


def test_collect_mode_records_every_failure_and_summary_lists_them(results_dir, monkeypatch):
    monkeypatch.setenv("COURSEKIT_CHECKS", "collect")
    run = make_run(profile="lab")
    assert run.check("first", 0.1, at_least=0.5).passed is False  # no raise: the run goes on
    run.check("second", 1.0, at_least=0.5)
    run.check("third", 9.0, at_most=1.0)
    recorded = json.loads((results_dir / "unit.json").read_text())
    assert recorded["checks_mode"] == "collect"
    assert [c["passed"] for c in recorded["checks"]] == [False, True, False]
    with pytest.raises(ck.ClaimError) as info:
        run.summary()
    message = str(info.value)
    assert "2 of 3 claims failed" in message and "first = 0.1" in message and "third = 9" in message
    assert "second" not in message


def test_summary_after_a_failed_cell_names_the_failure_again(results_dir):
    # nbval goes on past a failed cell: the summary's cell must fail too, and say why.
    run = make_run(profile="lab")
    with pytest.raises(ck.ClaimError):
        run.check("first", 0.1, at_least=0.5)
    run.check("second", 1.0, at_least=0.5)
    with pytest.raises(
        ck.ClaimError, match=r"1 of 2 claims failed in the 'lab' profile:\n  - first"
    ):
        run.summary()


def test_a_bad_check_mode_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSEKIT_CHECKS", "lenient")
    with pytest.raises(ValueError, match="COURSEKIT_CHECKS='lenient' is not allowed"):
        make_run(profile="lab")


def test_null_run_takes_the_null_settings_and_is_recorded(results_dir):
    kwargs = dict(
        profile="lab",
        smoke=dict(steps=10, lr=0.1),
        lab=dict(steps=100, lr=0.1),
        full=dict(steps=1000, lr=0.1),
        null=dict(steps=1),
    )
    assert make_run(**kwargs).steps == 100
    run = make_run(**kwargs, null_run=True)
    assert (run.steps, run.lr, run.null_run) == (1, 0.1, True)
    # a parameter the learner sets still wins
    assert make_run(**kwargs, null_run=True, overrides=dict(steps=5)).steps == 5
    recorded = json.loads((results_dir / "unit.json").read_text())
    assert recorded["null_run"] is True and recorded["settings"]["steps"] == 5


def test_null_run_needs_null_settings_of_known_names():
    profiles = dict(smoke=dict(steps=1), lab=dict(steps=2), full=dict(steps=3))
    with pytest.raises(ValueError, match="gives no null= settings"):
        make_run(profile="lab", **profiles, null_run=True)
    with pytest.raises(ValueError, match=r"null= names settings \['epochs'\]"):
        make_run(profile="lab", **profiles, null=dict(epochs=1), null_run=True)
    with pytest.raises(ValueError, match="null_run='yes' is not allowed"):
        make_run(profile="lab", **profiles, null=dict(steps=1), null_run="yes")


# --- progress bars ------------------------------------------------------------------


def test_progress_in_batch_prints_only_its_final_line(monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_BATCH", "1")
    bar = ck.progress(range(50), desc="train")
    for _ in bar:
        bar.set_postfix(loss=0.5)
    bar.close()
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("train: 50 of 50 in ") and "loss=0.5" in lines[0]
    assert "|" not in lines[0] and "#" not in lines[0]  # a sentence, not a bar's drawing
    assert captured.err == ""


def test_progress_line_says_when_a_loop_stopped_early_and_how_fast():
    assert (
        bars.final_line("fit", 7, 10, 3.5, "") == "fit: stopped after 7 of 10 in 3.5 s (2 a second)"
    )
    assert bars.final_line(None, 120, 120, 75.0, "acc=0.9") == (
        "120 of 120 in 1 min 15 s (1.6 a second; acc=0.9)"
    )
    assert bars.final_line("search", 0, None, 0.0, "") == "search: 0 in 0.0 s"


def test_progress_is_live_tqdm_outside_batch(monkeypatch):
    monkeypatch.delenv("COURSEKIT_BATCH", raising=False)
    bar = ck.progress(range(3))
    assert not isinstance(bar, bars._FinalLineBar)
    list(bar)
