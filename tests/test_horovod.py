"""Multi-process data-parallel training: Horovod (and torch.distributed) really running.

The Horovod tests need Horovod, which `make horovod` builds (tools/build_horovod.sh).
Without it they skip, saying why and how to build it; with COURSEKIT_REQUIRE_HOROVOD=1
(set by .ci/run) a missing Horovod fails them instead, so CI cannot pass by skipping.
On a machine with two or more GPUs the ranks run one per GPU (NCCL); otherwise they run
as 2 CPU processes over Gloo. The notebook itself runs in tests/test_notebooks.py.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest
import torch
from course_runs import SHARED_MNIST_FULL

from coursekit import distributed
from coursekit.distributed import launch, study
from coursekit.distributed.train_worker import Comm, as_tensors, load_data, train, warmup_lr

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "tools" / "build_horovod.sh"
GPU_RANKS = torch.cuda.device_count() >= 2
NP = torch.cuda.device_count() if GPU_RANKS else 2
# CPU ranks: one thread each, on the CPU even where there is a single GPU.
PLACEMENT = [] if GPU_RANKS else ["--device", "cpu", "--threads", "1"]
TIMEOUT_S = 240  # for any one job; the tests also check how much sooner failures end


@functools.cache
def _status():
    return distributed.horovod_status()


@pytest.fixture
def horovod():
    ok, why = _status()
    if not ok:
        if os.environ.get("COURSEKIT_REQUIRE_HOROVOD") == "1":
            pytest.fail(f"COURSEKIT_REQUIRE_HOROVOD=1, but {why}")
        pytest.skip(why)
    return why


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.pt"
    torch.save(load_data(), path)
    return path


def _reference(data_file, **kwargs):
    """The single process the data-parallel runs are checked against (CPU, float64)."""
    result, net = train(Comm("none", "cpu", threads=1), data=str(data_file), **kwargs)
    return result, {k: v.detach() for k, v in net.state_dict().items()}


def _max_difference(a: dict, b: dict) -> float:
    return max((a[k].cpu().double() - b[k].cpu().double()).abs().max().item() for k in a)


EQUIVALENCE = dict(epochs=2, lr=0.05, dtype="float64", warmup_epochs=0.0, seed=0)
EQUIVALENCE_ARGS = ["train", "--epochs", "2", "--lr", "0.05", "--dtype", "float64"]
EQUIVALENCE_ARGS += ["--no-scale-lr", "--warmup-epochs", "0", "--seed", "0", *PLACEMENT]
# float64 on the CPU: the two runs add the same numbers in another order, so they differ by
# rounding only (a few units of 2^-52 seen; 1e-13 is a few hundred for weights of size 1; a
# wrong sampler or rate gives >= 1e-3). On GPUs the reductions (cuBLAS) round differently.
EQUIVALENCE_TOL = 1e-9 if GPU_RANKS else 1e-13


# --- The build ----------------------------------------------------------------------------------


def test_build_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(BUILD_SCRIPT)], check=True)


def test_build_script_check_agrees_with_the_import(horovod):
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is installed" in done.stdout


@pytest.mark.timeout(180)
def test_second_build_run_does_nothing(horovod):
    """The right Horovod is importable: the script says so and builds nothing."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to do" in done.stdout
    assert "building" not in done.stdout


@pytest.mark.timeout(330)
def test_check_build_lists_pytorch_and_gloo_as_horovodrun_does(horovod):
    report = distributed.check_build()
    assert "[X] PyTorch" in report and "[X] Gloo" in report
    if GPU_RANKS:
        assert "[X] NCCL" in report
    # the quick probe's table is horovodrun's own, line for line
    assert report == distributed.check_build(horovodrun=True)


# --- The equivalence: N ranks x B = 1 process x N*B ------------------------------------------


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_two_ranks_equal_one_process_with_twice_the_batch(horovod, data_file, tmp_path):
    job = distributed.horovodrun(
        2,
        [*EQUIVALENCE_ARGS, "--batch-size", "16", "--data", str(data_file)],
        out_dir=tmp_path,
        timeout=TIMEOUT_S,
    )
    job.raise_for_failure()
    assert {r["max_rank_difference"] for r in job.results.values()} == {0.0}
    two_ranks = torch.load(tmp_path / "final_model.pt")
    _, single = _reference(data_file, batch_size=32, **EQUIVALENCE)
    assert _max_difference(two_ranks, single) <= EQUIVALENCE_TOL
    # and the check can fail: one process with batch 16 is a different training
    _, other = _reference(data_file, batch_size=16, **EQUIVALENCE)
    assert _max_difference(two_ranks, other) > 1e-3


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_ddp_two_ranks_equal_one_process_with_twice_the_batch(data_file, tmp_path):
    """The same check for torch.distributed (DDP under torchrun); needs no Horovod."""
    job = distributed.torchrun(
        2,
        [*EQUIVALENCE_ARGS, "--batch-size", "16", "--data", str(data_file)],
        out_dir=tmp_path,
        timeout=TIMEOUT_S,
    )
    job.raise_for_failure()
    two_ranks = torch.load(tmp_path / "final_model.pt")
    _, single = _reference(data_file, batch_size=32, **EQUIVALENCE)
    assert _max_difference(two_ranks, single) <= EQUIVALENCE_TOL


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_two_hosts_on_localhost(horovod, data_file, tmp_path):
    """-H localhost:1,127.0.0.1:1: two "machines" with one slot each. horovodrun starts
    local addresses without ssh, so this runs here and still takes the multi-host path."""
    if GPU_RANKS:
        pytest.skip("with GPUs the ranks share one machine's GPUs; the 2-host run is CPU-only")
    job = distributed.horovodrun(
        2,
        ["train", "--epochs", "1", *PLACEMENT, "--data", str(data_file)],
        hosts="localhost:1,127.0.0.1:1",
        out_dir=tmp_path,
        timeout=TIMEOUT_S,
    )
    job.raise_for_failure()
    topology = sorted(
        (r["rank"], r["local_rank"], r["local_size"], r["cross_rank"], r["cross_size"])
        for r in job.results.values()
    )
    assert topology == [(0, 0, 1, 0, 2), (1, 0, 1, 1, 2)]
    assert job.results[0]["fingerprint_final"] == job.results[1]["fingerprint_final"]
    assert "-H" in job.command and "localhost:1,127.0.0.1:1" in job.command


# --- Failures end the job, fast, and say which rank ------------------------------------------


@pytest.mark.timeout(TIMEOUT_S + 60)
@pytest.mark.parametrize("launcher", ["horovodrun", "torchrun"])
def test_a_crashed_rank_fails_the_job_fast_and_is_named(launcher, data_file, tmp_path, request):
    if launcher == "horovodrun":
        request.getfixturevalue("horovod")
    run = distributed.horovodrun if launcher == "horovodrun" else distributed.torchrun
    args = ["train", "--epochs", "2", *PLACEMENT, "--data", str(data_file)]
    job = run(
        2, [*args, "--fail-rank", "1", "--fail-step", "2"], out_dir=tmp_path, timeout=TIMEOUT_S
    )
    assert not job.ok and not job.timed_out, job.tail()
    assert job.returncode != 0
    assert job.failed_rank == 1, job.tail()
    assert "rank 1 failed" in job.error and "injected failure on rank 1" in job.error
    # The launcher ends the job because a process exited, not because a timeout fired: sooner
    # after the error than Gloo's timeout (starting the processes, before it, takes longer
    # on a loaded machine, so it is left out).
    after = job.seconds_after("injected failure on rank 1")
    assert after is not None and after < launch.GLOO_TIMEOUT_S, f"{after} s after the error"
    with pytest.raises(distributed.LaunchError, match="rank 1 failed"):
        job.raise_for_failure()


@pytest.mark.timeout(180)
def test_a_hung_rank_is_killed_at_the_time_limit(horovod, data_file, tmp_path):
    """Rank 1 stops answering; rank 0 waits in its allreduce. The launcher's time limit
    kills the whole process group and says so."""
    args = ["train", "--epochs", "2", *PLACEMENT, "--data", str(data_file)]
    args += ["--hang-rank", "1", "--fail-step", "1"]
    # Long enough to outlast Gloo's timeout (20 s) after a hang that comes a few seconds in.
    limit = 40
    job = distributed.horovodrun(2, args, out_dir=tmp_path, timeout=limit)
    assert job.timed_out and not job.ok
    assert "rank 1 hangs at step 1 (a test)" in job.output, "the job ended before the hang"
    assert f"timed out after {limit} s" in job.error
    # Nothing in Horovod ended it (no Gloo timeout fires while the hung rank's background
    # thread still answers): it ran to the limit, longer than Gloo's timeout after the hang.
    assert limit <= job.wall_s < limit + 30
    assert job.seconds_after("rank 1 hangs at step 1") > launch.GLOO_TIMEOUT_S
    psutil = pytest.importorskip("psutil")
    leftover = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(tmp_path) in " ".join(p.info["cmdline"] or []) and p.status() != "zombie":
                leftover.append(p.pid)
        except psutil.Error:  # it ended while we looked
            pass
    assert not leftover, f"processes left running: {leftover}"


# --- The pieces, without launching anything ------------------------------------------------------


def test_failed_rank_ignores_the_aftershocks():
    """Rank 0 dies of rank 1's shutdown and exits first: rank 1 is still the cause."""
    output = "\n".join(
        [
            "[0]<stderr>:horovod.common.exceptions.HorovodInternalError: Horovod has been shut down.",
            "[1]<stderr>:RuntimeError: injected failure on rank 1 at step 5",
            "RuntimeError: Horovod detected that one or more processes exited with non-zero "
            "status, thus causing the job to be terminated. The first process to do so was:",
            "Process name: 0",
        ]
    )
    job = launch.Job("horovodrun", ["x"], 1, 1.0, output, Path("."))
    for line in output.splitlines():
        match = launch._HOROVOD_LINE.match(line)
        if match:
            job.by_rank.setdefault(int(match.group(1)), []).append(f"(stderr) {match.group(3)}")
    assert job.failed_rank == 1
    assert "injected failure on rank 1" in job.error


def test_seconds_after_counts_from_the_first_matching_line(tmp_path):
    job = launch._run(
        "test",
        ["sh", "-c", "echo one; sleep 1; echo two; sleep 1"],
        tmp_path,
        30.0,
        dict(os.environ),
        False,
    )
    assert job.ok and job.output.split("\n") == ["one", "two"]
    assert len(job.line_times) == 2 and job.line_times[0] < job.line_times[1]
    assert 1.5 < job.seconds_after("one") <= job.wall_s
    assert 0.5 < job.seconds_after("two") < job.seconds_after("one")
    assert job.seconds_after("three") is None


def test_launcher_time_limit_kills_the_process_group(tmp_path):
    job = launch._run(
        "test", ["sh", "-c", "sleep 100 & sleep 100"], tmp_path, 1.0, dict(os.environ), False
    )
    assert job.timed_out and job.wall_s < 10
    assert "timed out after 1 s" in job.error


def test_steps_per_epoch_cuts_every_epoch_short(data_file):
    result, _ = train(
        Comm("none", "cpu", threads=1), epochs=2, data=str(data_file), max_steps_per_epoch=3
    )
    assert result["steps_per_epoch"] == 3 and [h["step"] for h in result["history"]] == [3, 6]
    with pytest.raises(ValueError, match="max_steps_per_epoch=0 is not allowed"):
        train(Comm("none", "cpu"), epochs=1, data=str(data_file), max_steps_per_epoch=0)


def _wide_data(n_train=192, n_test=64, features=784):
    """Random 28x28-sized rows and labels: the width of MNIST, none of its cost."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n_train + n_test, features, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def test_the_worker_builds_its_model_for_the_width_of_the_data(tmp_path):
    path = tmp_path / "wide.pt"
    torch.save(_wide_data(), path)
    result, net = train(Comm("none", "cpu", threads=1), epochs=1, batch_size=32, data=str(path))
    assert net[1].in_features == 784 and result["steps_per_epoch"] == 6


def test_the_study_measures_its_curve_on_the_first_eval_examples():
    data = _wide_data()
    kwargs = dict(batch_size=32, lr=0.05, epochs=2, eval_every=1)
    on_16 = study.fit(data, eval_examples=16, **kwargs)
    on_all = study.fit(data, **kwargs)
    assert len(on_16.curve) == on_16.steps == 12
    # an accuracy over 16 examples is a multiple of 1/16; over all 64, not always
    assert all(abs(a * 16 - round(a * 16)) < 1e-9 for _, a in on_16.curve)
    assert any(abs(a * 16 - round(a * 16)) > 1e-9 for _, a in on_all.curve)
    # the same training either way, and the final accuracy is always the whole test set's
    assert on_16.final_accuracy == on_all.final_accuracy
    assert abs(on_16.final_accuracy * 64 - round(on_16.final_accuracy * 64)) < 1e-9
    fewer = study.fit(data, batch_size=8, lr=0.05, epochs=1, evals_per_epoch=4)
    assert [step for step, _ in fewer.curve] == [6, 12, 18, 24]


@pytest.mark.skipif(
    not SHARED_MNIST_FULL.is_dir(), reason=f"no shared copy of MNIST at {SHARED_MNIST_FULL}"
)
def test_mnist_is_saved_for_the_ranks_as_rows_of_784():
    from coursekit.data import load_mnist

    x_train, y_train, x_test, y_test = as_tensors(
        load_mnist(root=SHARED_MNIST_FULL, split="official", download=False)
    )
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert len(y_train) == 60_000 and len(y_test) == 10_000 and x_train.dtype == torch.float32


def test_warmup_goes_from_lr_to_size_times_lr():
    assert warmup_lr(0, 0.1, 4, 10) == pytest.approx(0.1)
    assert warmup_lr(5, 0.1, 4, 10) == pytest.approx(0.25)
    assert warmup_lr(10, 0.1, 4, 10) == pytest.approx(0.4)
    assert warmup_lr(99, 0.1, 4, 10) == pytest.approx(0.4)
    assert warmup_lr(3, 0.1, 1, 10) == pytest.approx(0.1)


def test_noise_scale_matches_a_direct_computation():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    grads = []
    for i in range(20):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double())
    g = torch.stack(grads)
    mean = g.mean(0)
    trace = ((g - mean) ** 2).sum(1).sum().item() / 19
    result = study.noise_scale(model, x, y, chunk=7)
    assert result.grad_norm_sq == pytest.approx(mean.dot(mean).item(), rel=1e-5)
    assert result.trace_cov == pytest.approx(trace, rel=1e-5)
    assert result.b_simple == pytest.approx(trace / mean.dot(mean).item(), rel=1e-5)


def test_noise_scale_from_norms_equals_vmap_on_the_notebooks_model():
    """The per-layer shortcut (one backward pass) = every example's gradient (torch.func),
    to float64 rounding, and it leaves the model's .grad alone."""
    from coursekit.distributed.train_worker import make_model

    torch.manual_seed(0)
    model = make_model(hidden=32).double()
    x, y = torch.randn(40, 64, dtype=torch.float64), torch.randint(0, 10, (40,))
    by_norms = study.noise_scale(model, x, y)
    by_vmap = study.noise_scale(model, x, y, method="vmap", chunk=16)
    for field in ("grad_norm_sq", "trace_cov", "b_simple"):
        assert getattr(by_norms, field) == pytest.approx(getattr(by_vmap, field), rel=1e-12)
    assert all(p.grad is None for p in model.parameters())
    sq, total = study.per_example_sq_norms(model, x, y)
    grads = study.per_example_gradients(model, x, y).double()
    assert torch.allclose(sq, (grads * grads).sum(1), rtol=1e-12)
    assert torch.allclose(total, grads.sum(0), rtol=1e-10, atol=1e-14)


def test_noise_scale_says_what_it_cannot_do():
    conv = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    x, y = torch.randn(5, 1, 4), torch.randint(0, 2, (5,))
    with pytest.raises(ValueError, match="nn.Linear layers only.*0.weight"):
        study.noise_scale(conv, x, y)
    with pytest.raises(ValueError, match="method='exact' is not allowed"):
        study.noise_scale(torch.nn.Linear(4, 2), torch.randn(5, 4), y, method="exact")


def test_two_batch_estimator_is_unbiased_in_expectation():
    # E|G_B|^2 = |G|^2 + tr(Sigma)/B exactly; feed it the expectations.
    g2, trace = 0.5, 40.0
    est = study.noise_scale_two_batches(g2 + trace / 32, g2 + trace / 256, 32, 256)
    assert est == pytest.approx((g2, trace, trace / g2))


def test_critical_batch_fit_recovers_known_parameters():
    batches = [16, 32, 64, 128, 256, 512]
    steps = [20 * (1 + 100 / b) for b in batches]
    s_min, e_min, b_crit = study.critical_batch_fit(batches, steps)
    assert (s_min, e_min, b_crit) == pytest.approx((20, 2000, 100))


def test_a_horovod_without_nccl_keeps_the_ranks_off_the_gpus(capsys):
    # No GPU is needed to test the decision: a stand-in for horovod.torch's two answers.
    from types import SimpleNamespace

    gloo_only = SimpleNamespace(nccl_built=lambda: False, rank=lambda: 0)
    assert Comm._horovod_can_use_gpus(gloo_only, "auto") is False
    printed = capsys.readouterr().out
    assert "without NCCL" in printed and "tools/build_horovod.sh --force" in printed
    with pytest.raises(RuntimeError, match=r"device='cuda'.*without NCCL.*--force"):
        Comm._horovod_can_use_gpus(gloo_only, "cuda")
    with_nccl = SimpleNamespace(nccl_built=lambda: True, rank=lambda: 0)
    assert Comm._horovod_can_use_gpus(with_nccl, "cuda") is True
