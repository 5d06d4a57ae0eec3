"""coursekit.train (batches, the training loop) and coursekit.schedules (warm-up, decay)."""

import math

import pytest
import torch

from coursekit import schedules, train

# --------------------------------------------------------------------------------------------
# Schedules


def test_scaled_lr_rules():
    assert schedules.scaled_lr(0.1, 1024, 256) == pytest.approx(0.4)
    assert schedules.scaled_lr(0.1, 1024, 256, rule="sqrt") == pytest.approx(0.2)
    assert schedules.scaled_lr(0.1, 1024, 256, rule="none") == 0.1
    # Goyal et al. 2017: 0.1 per 256 images gives 3.2 at 8192
    assert schedules.scaled_lr(0.1, 8192, 256) == pytest.approx(3.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(rule="cubic"), "rule='cubic' is not allowed"),
        (dict(batch_size=0), "batch_size=0 is not allowed: it must be an integer >= 1"),
        (dict(base_lr=-1.0), "base_lr=-1.0 is not allowed"),
    ],
)
def test_scaled_lr_rejects_bad_arguments(kwargs, message):
    args = dict(base_lr=0.1, batch_size=64, base_batch_size=32) | kwargs
    with pytest.raises(ValueError, match=message):
        schedules.scaled_lr(**args)


def test_warmup_climbs_linearly_then_cosine_decays_to_the_floor():
    f = [schedules.warmup_factor(s, 4, 14, "cosine", final_fraction=0.1) for s in range(20)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4] == pytest.approx(1.0)
    assert f[9] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down the cosine
    assert f[14:] == pytest.approx([0.1] * 6)  # at and after total_steps: the floor
    assert all(a >= b for a, b in zip(f[3:], f[4:], strict=False))


def test_linear_and_constant_decays():
    lin = [schedules.warmup_factor(s, 0, 10, "linear") for s in range(11)]
    assert lin == pytest.approx([1 - s / 10 for s in range(11)])
    const = [schedules.warmup_factor(s, 2, 10, "constant") for s in range(6)]
    assert const == pytest.approx([0.5, 1, 1, 1, 1, 1])


def test_warmup_decay_drives_an_optimizer():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sched = schedules.warmup_decay(opt, warmup_steps=2, total_steps=4, decay="linear")
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1.0, 2.0, 2.0, 1.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(warmup_steps=-1), "warmup_steps=-1 is not allowed"),
        (dict(total_steps=0), "total_steps=0 is not allowed"),
        (dict(decay="step"), "decay='step' is not allowed"),
        (dict(final_fraction=2.0), "final_fraction=2.0 is not allowed"),
    ],
)
def test_warmup_decay_rejects_bad_arguments(kwargs, message):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=message):
        schedules.warmup_decay(opt, **(dict(warmup_steps=1, total_steps=5) | kwargs))


# --------------------------------------------------------------------------------------------
# Batches


def test_tensor_batches_cover_every_example_once_per_pass():
    x = torch.arange(10.0).unsqueeze(1)
    batches = train.TensorBatches(x, torch.arange(10), batch_size=4, seed=1)
    assert len(batches) == 3
    first = [b[0].squeeze(1) for b in batches]
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(torch.cat(first).tolist()) == list(range(10))
    second = torch.cat([b[1] for b in batches])
    assert not torch.equal(torch.cat(first).long(), second)  # a new order each pass
    again = train.TensorBatches(x, torch.arange(10), batch_size=4, seed=1)
    assert torch.equal(torch.cat([b[1] for b in again]), torch.cat(first).long())


def test_tensor_batches_drop_last_and_errors():
    x, y = torch.zeros(10, 1), torch.zeros(10, dtype=torch.long)
    assert len(train.TensorBatches(x, y, 4, drop_last=True)) == 2
    assert [len(b[0]) for b in train.TensorBatches(x, y, 4, shuffle=False)] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size=0 is not allowed"):
        train.TensorBatches(x, y, 0)
    with pytest.raises(ValueError, match="differ in length"):
        train.TensorBatches(x, y[:5], 2)
    with pytest.raises(ValueError, match="at most the number of examples, 10"):
        train.TensorBatches(x, y, 11, drop_last=True)


# --------------------------------------------------------------------------------------------
# The loop


def blobs(seed=0, n=200):
    """Two well separated Gaussian blobs in 2-D: any sane optimiser gets them right."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=gen) + 3.0 * (2 * y.unsqueeze(1) - 1).float()
    return x, y


def test_mlp_shapes():
    model = train.mlp(6, hidden=(5, 4), classes=3)
    assert model(torch.zeros(7, 2, 3)).shape == (7, 3)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(6, 5), (5, 4), (4, 3)]


def test_evaluate_counts_loss_and_accuracy():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [2.0, 0.0]])
    y = torch.tensor([0, 1, 1, 0])
    loss, acc = train.evaluate(model, x, y, batch_size=3)
    assert acc == 0.75
    expected = torch.nn.functional.cross_entropy(model(x), y).item()
    assert loss == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(train.OPTIMIZERS))
def test_fit_learns_the_blobs_with_every_optimizer(name):
    x, y = blobs()
    torch.manual_seed(0)
    model = train.mlp(2, hidden=(16,), classes=2)
    lr = {"sgd": 0.1, "lars": 5.0}.get(name, 0.01)
    opt = train.make_optimizer(name, model.parameters(), lr=lr)
    history = train.fit(model, opt, train.TensorBatches(x, y, 20), (x, y), epochs=10, target=0.95)
    assert history.final_accuracy >= 0.95 and not history.diverged
    assert history.steps == 100 and history.steps_per_epoch == 10
    assert history.eval_step == list(range(10, 101, 10))
    assert history.steps_to_target is not None and history.steps_to_target <= 100
    assert 0 < history.time_to_target_s <= history.train_time_s


def test_make_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="optimizer='rmsprop' is not allowed: it must be one of"):
        train.make_optimizer("rmsprop", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def test_fit_is_deterministic_and_follows_the_schedule():
    x, y = blobs()

    def once():
        torch.manual_seed(3)
        model = train.mlp(2, hidden=(8,), classes=2)
        opt = train.make_optimizer("sgd", model.parameters(), lr=0.2)
        sched = schedules.warmup_decay(opt, warmup_steps=5, total_steps=20, decay="linear")
        seen = []
        history = train.fit(
            model,
            opt,
            train.TensorBatches(x, y, 50, seed=2),
            (x, y),
            epochs=5,
            schedule=sched,
            eval_every=3,
            on_step=lambda step, m, o: seen.append(step),
        )
        return history, seen

    (a, seen), (b, _) = once(), once()
    assert a.train_loss == b.train_loss and a.test_accuracy == b.test_accuracy
    assert seen == list(range(1, 21))
    assert a.lr[:6] == pytest.approx([0.04, 0.08, 0.12, 0.16, 0.2, 0.2])
    assert a.lr[-1] == pytest.approx(0.2 * (1 - 14 / 15))
    assert a.eval_step == [3, 6, 9, 12, 15, 18, 20]  # and once more after the last step


def test_fit_stops_at_target_and_on_divergence():
    x, y = blobs()
    torch.manual_seed(0)
    model = train.mlp(2, hidden=(16,), classes=2)
    opt = train.make_optimizer("adam", model.parameters(), lr=0.05)
    history = train.fit(
        model, opt, train.TensorBatches(x, y, 10), (x, y), epochs=50, target=0.9,
        eval_every=1, stop_at_target=True,
    )  # fmt: skip
    assert history.steps == history.steps_to_target < 50 * 20
    assert history.final_accuracy >= 0.9

    torch.manual_seed(0)
    model = train.mlp(2, hidden=(16,), classes=2)
    opt = train.make_optimizer("sgd", model.parameters(), lr=1e30)
    history = train.fit(model, opt, train.TensorBatches(x, y, 10), (x, y), epochs=5)
    assert history.diverged and history.steps < 50
    assert not math.isfinite(history.train_loss[-1])


def test_fit_rejects_bad_epochs():
    x, y = blobs()
    model = train.mlp(2, hidden=(4,), classes=2)
    opt = train.make_optimizer("sgd", model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs=0 is not allowed"):
        train.fit(model, opt, train.TensorBatches(x, y, 10), epochs=0)


def test_fit_max_steps_cuts_the_run_short_without_changing_the_schedule():
    x, y = blobs()

    def once(max_steps):
        torch.manual_seed(0)
        model = train.mlp(2, hidden=(8,), classes=2)
        opt = train.make_optimizer("sgd", model.parameters(), lr=0.2)
        sched = schedules.warmup_decay(opt, warmup_steps=4, total_steps=40)
        batches = train.TensorBatches(x, y, 50, seed=1)
        return train.fit(model, opt, batches, (x, y), epochs=10, schedule=sched,
                         max_steps=max_steps)  # fmt: skip

    whole, cut = once(None), once(6)
    assert whole.steps == 40 and cut.steps == 6
    assert cut.lr == whole.lr[:6] and cut.train_loss == whole.train_loss[:6]
    assert cut.eval_step == [4, 6]  # once an epoch (4 steps), and after the last step
    assert once(1).steps == 1
    with pytest.raises(ValueError, match="max_steps=0 is not allowed"):
        once(0)


def test_validation_split_is_seeded_and_disjoint():
    x, y = torch.arange(20.0).unsqueeze(1), torch.arange(20)
    (x_fit, y_fit), (x_val, y_val) = train.validation_split(x, y, 0.25, seed=3)
    assert len(y_val) == 5 and len(y_fit) == 15
    assert sorted(torch.cat([y_fit, y_val]).tolist()) == list(range(20))
    assert torch.equal(x_val.squeeze(1).long(), y_val)  # rows stay paired
    (_, again), _ = train.validation_split(x, y, 0.25, seed=3)
    assert torch.equal(again, y_fit)
    (_, other), _ = train.validation_split(x, y, 0.25, seed=4)
    assert not torch.equal(other, y_fit)
    for bad in (0, 1.0, True):
        with pytest.raises(ValueError, match=f"fraction={bad!r} is not allowed"):
            train.validation_split(x, y, bad)
    with pytest.raises(ValueError, match="differ in length"):
        train.validation_split(x, y[:5])
