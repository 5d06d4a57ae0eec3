"""coursekit.problems: closed-form values, gradients and Hessians against autograd, minimisers,
and the errors a bad argument raises."""

import math

import pytest
import torch

from coursekit import problems

F64 = torch.float64


def autograd_grad(fn, w):
    w = w.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(w).sum(), w)
    return g


# --------------------------------------------------------------------------------------------
# Quadratic


def test_random_quadratic_has_the_asked_spectrum_and_minimiser():
    q = problems.Quadratic.random(12, mu=0.5, L=40.0, seed=3)
    assert q.dim == 12
    assert q.mu == pytest.approx(0.5, rel=1e-12)
    assert q.L == pytest.approx(40.0, rel=1e-12)
    assert q.kappa == pytest.approx(80.0, rel=1e-12)
    torch.testing.assert_close(q.hessian, q.hessian.mT, rtol=0, atol=0)
    assert q.value(q.w_star).item() == pytest.approx(q.f_star, abs=1e-14)
    torch.testing.assert_close(q.grad(q.w_star), torch.zeros(12, dtype=F64), rtol=0, atol=1e-13)


def test_random_quadratic_is_fixed_by_its_seed():
    a = problems.Quadratic.random(5, 1.0, 10.0, seed=7)
    b = problems.Quadratic.random(5, 1.0, 10.0, seed=7)
    c = problems.Quadratic.random(5, 1.0, 10.0, seed=8)
    assert torch.equal(a.hessian, b.hessian) and torch.equal(a.w_star, b.w_star)
    assert not torch.equal(a.hessian, c.hessian)


@pytest.mark.parametrize(
    "q",
    [
        problems.Quadratic.random(6, 1.0, 100.0, seed=0),
        problems.Quadratic.diagonal([1.0, 3.0, 9.0], w_star=[1.0, -2.0, 0.5]),
        problems.Quadratic.rotated([1.0, 50.0], angle=0.3, w_star=[2.0, -1.0]),
    ],
    ids=["random", "diagonal", "rotated"],
)
def test_quadratic_gradient_matches_autograd_on_a_batch(q):
    w = torch.randn(4, 3, q.dim, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert q.value(w).shape == (4, 3)
    torch.testing.assert_close(q.grad(w), autograd_grad(q.value, w), rtol=1e-12, atol=1e-12)
    # the value is the quadratic form itself
    d = w[0, 0] - q.w_star
    assert q.value(w[0, 0]).item() == pytest.approx(0.5 * (d @ q.hessian @ d).item(), rel=1e-12)


def test_rotated_quadratic_keeps_its_eigenvalues_and_turns_its_axes():
    q = problems.Quadratic.rotated([2.0, 8.0], angle=math.pi / 4)
    assert q.mu == pytest.approx(2.0) and q.L == pytest.approx(8.0)
    # turned by 45 degrees both diagonal entries are the mean eigenvalue
    torch.testing.assert_close(torch.diagonal(q.hessian), torch.tensor([5.0, 5.0], dtype=F64))


def test_quadratic_to_moves_and_casts():
    q = problems.Quadratic.diagonal([1.0, 2.0]).to(dtype=torch.float32)
    assert q.hessian.dtype == torch.float32 and q.w_star.dtype == torch.float32


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: problems.Quadratic.diagonal([1.0, -1.0]), "positive definite"),
        (lambda: problems.Quadratic.diagonal([]), "non-empty"),
        (lambda: problems.Quadratic.diagonal([1.0, 2.0], w_star=[1.0]), "w_star must have shape"),
        (lambda: problems.Quadratic.rotated([1.0, 2.0, 3.0], 0.1), "exactly two eigenvalues"),
        (lambda: problems.Quadratic.random(1, 1.0, 2.0), "dim must be an integer >= 2"),
        (lambda: problems.Quadratic.random(3, 2.0, 1.0), "0 < mu <= L"),
        (lambda: problems.Quadratic.random(3, 0.0, 1.0), "0 < mu <= L"),
        (
            lambda: problems.Quadratic(torch.tensor([[1.0, 2.0], [0.0, 1.0]]), torch.zeros(2)),
            "symmetric",
        ),
        (lambda: problems.Quadratic(torch.ones(2, 3), torch.zeros(2)), "square"),
    ],
)
def test_quadratic_rejects_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --------------------------------------------------------------------------------------------
# Rosenbrock


def test_rosenbrock_minimum_and_value():
    w_min = torch.tensor(problems.ROSENBROCK_MIN, dtype=F64)
    assert problems.rosenbrock(w_min).item() == 0.0
    assert torch.equal(problems.rosenbrock_grad(w_min), torch.zeros(2, dtype=F64))
    # the classical start: (1 + 1.2)^2 + 100 (1 - 1.44)^2 = 4.84 + 19.36
    start = torch.tensor([-1.2, 1.0], dtype=F64)
    assert problems.rosenbrock(start).item() == pytest.approx(24.2, rel=1e-12)


def test_rosenbrock_gradient_and_hessian_match_autograd():
    w = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.testing.assert_close(
        problems.rosenbrock_grad(w), autograd_grad(problems.rosenbrock, w), rtol=1e-12, atol=1e-10
    )
    for point in w:
        expected = torch.autograd.functional.hessian(problems.rosenbrock, point)
        torch.testing.assert_close(problems.rosenbrock_hessian(point), expected)
    assert problems.rosenbrock_hessian(w).shape == (7, 2, 2)


def test_rosenbrock_other_constants():
    w = torch.tensor([2.0, 4.0], dtype=F64)  # the minimiser (a, a^2) for a = 2
    assert problems.rosenbrock(w, a=2.0, b=10.0).item() == 0.0
    torch.testing.assert_close(
        problems.rosenbrock_grad(w + 0.1, a=2.0, b=10.0),
        autograd_grad(lambda v: problems.rosenbrock(v, a=2.0, b=10.0), w + 0.1),
    )


def test_rosenbrock_needs_two_coordinates():
    with pytest.raises(ValueError, match="2 coordinates"):
        problems.rosenbrock(torch.zeros(3))


# --------------------------------------------------------------------------------------------
# Logistic regression


def test_sparse_logistic_data_shapes_sparsity_and_seed():
    x, y, w = problems.sparse_logistic_data(300, 40, 5, seed=2, density=0.2)
    assert x.shape == (300, 40) and y.shape == (300,) and w.shape == (40,)
    assert x.dtype == F64
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert int((w != 0).sum()) == 5 and torch.all(w[5:] == 0)
    assert 0.15 < (x != 0).double().mean().item() < 0.25
    x2, y2, w2 = problems.sparse_logistic_data(300, 40, 5, seed=2, density=0.2)
    assert torch.equal(x, x2) and torch.equal(y, y2) and torch.equal(w, w2)


def test_sparse_logistic_labels_follow_the_true_weights():
    x, y, w = problems.sparse_logistic_data(4000, 10, 3, seed=0)
    accuracy = ((x @ w > 0).double() == y).double().mean().item()
    assert accuracy > 0.75  # the Bayes classifier is far better than a coin


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=0, dim=3, informative=1), "n must be an integer >= 1"),
        (dict(n=10, dim=3, informative=4), "at most dim"),
        (dict(n=10, dim=3, informative=1, density=0.0), "density"),
        (dict(n=10, dim=2.5, informative=1), "dim must be an integer"),
    ],
)
def test_sparse_logistic_data_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        problems.sparse_logistic_data(**kwargs)


def test_logistic_loss_gradient_and_hessian_match_autograd():
    x, y, _ = problems.sparse_logistic_data(50, 6, 3, seed=4)
    w = torch.randn(6, generator=torch.Generator().manual_seed(5), dtype=F64)
    l2 = 0.3

    def loss(v):
        return problems.logistic_loss(v, x, y, l2)

    torch.testing.assert_close(problems.logistic_grad(w, x, y, l2), autograd_grad(loss, w))
    torch.testing.assert_close(
        problems.logistic_hessian(w, x, y, l2), torch.autograd.functional.hessian(loss, w)
    )
    # against the textbook formula, computed the slow way
    p = torch.sigmoid(x @ w)
    direct = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean() + 0.5 * l2 * w.dot(w)
    assert loss(w).item() == pytest.approx(direct.item(), rel=1e-12)


def test_logistic_loss_takes_a_batch_of_weights_and_large_logits():
    x, y, _ = problems.sparse_logistic_data(20, 3, 2, seed=0)
    ws = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    batched = problems.logistic_loss(ws, x, y)
    assert batched.shape == (4,)
    for i in range(4):
        assert batched[i].item() == pytest.approx(problems.logistic_loss(ws[i], x, y).item())
    torch.testing.assert_close(
        problems.logistic_grad(ws, x, y)[2], problems.logistic_grad(ws[2], x, y)
    )
    assert math.isfinite(problems.logistic_loss(1e4 * ws[0], x, y).item())  # no overflow


def test_logistic_hessian_takes_one_weight_vector():
    x, y, _ = problems.sparse_logistic_data(20, 3, 2, seed=0)
    with pytest.raises(ValueError, match="one w"):
        problems.logistic_hessian(torch.zeros(2, 3, dtype=F64), x, y)
