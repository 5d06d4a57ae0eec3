"""Wall times of coursekit.gp against scikit-learn (exact) and Pyro (sparse)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch

from coursekit import validate
from coursekit.gp.exact import ExactGP
from coursekit.gp.kernels import F64, RBF
from coursekit.gp.sparse import SparseGP


def _timed(fn, device: torch.device) -> tuple[float, object]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def _bench_data(n: int, n_test: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = 10 * torch.rand(n, 1, generator=gen, dtype=F64)
    y = torch.sin(x[:, 0]) + 0.3 * torch.sin(3 * x[:, 0]) + 0.1 * torch.randn(n, generator=gen)
    xs = torch.linspace(0, 10, n_test, dtype=F64).unsqueeze(-1)
    return x, y.to(F64), xs


def bench(
    sizes: Sequence[int] = (500, 1000, 2000, 3000, 4000, 5000),
    *,
    n_test: int = 500,
    sparse_n: int = 100_000,
    inducing: int = 100,
    repeats: int = 3,
    seed: int = 0,
    device: object = "cpu",
    threads: int | None = None,
    show_progress: bool = True,
) -> list[dict]:
    """Fit-and-predict wall times on 1-D data, float64: each side is called once untimed
    (a warm-up: first-call costs, allocations, caches), then ``repeats`` times, the two
    alternating and taking turns to go first; each time is the best of its ``repeats``.

    * exact, at each n in ``sizes``: :class:`ExactGP` (factorise, then mean and variance at
      ``n_test`` points) against scikit-learn's ``GaussianProcessRegressor`` with the same
      fixed kernel, ``ConstantKernel * RBF + WhiteKernel`` (``optimizer=None``, ``alpha=0``;
      ``fit`` then ``predict(return_std=True)``);
    * sparse, at n = ``sparse_n`` with ``inducing`` points on a grid: :class:`SparseGP` (VFE)
      against Pyro's ``SparseGPRegression`` (VFE) called the same way.

    Each row: ``method``, ``n``, ``coursekit_s``, the reference's name, time and the ratio
    ``coursekit_s / reference_s`` (below 1: ours is faster), and the largest difference
    between the two predictive means. ``threads`` limits torch and the BLAS that NumPy and
    SciPy call to that many threads during the benchmark (on a shared machine one thread
    each is often faster and always steadier); ``None`` leaves both as they are.
    """
    from threadpoolctl import threadpool_limits

    if threads is None:
        return _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress)
    threads = validate.integer("threads", threads, minimum=1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            return _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress)
    finally:
        torch.set_num_threads(before)


def _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF as SkRBF
    from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel

    from coursekit.bars import progress

    sizes = [validate.integer("size", n, minimum=2) for n in sizes]
    n_test = validate.integer("n_test", n_test, minimum=1)
    sparse_n = validate.integer("sparse_n", sparse_n, minimum=0)
    inducing = validate.integer("inducing", inducing, minimum=1)
    repeats = validate.integer("repeats", repeats, minimum=1)
    device = torch.device(device)
    variance, lengthscale, noise = 1.0, 1.0, 0.01
    rows = []
    cases = [("exact", n) for n in sizes] + ([("sparse", sparse_n)] if sparse_n else [])
    bar = progress(cases, desc="GP bench", disable=not show_progress)
    for method, n in bar:
        bar.set_postfix(method=method, n=n)
        x, y, xs = _bench_data(n, n_test, seed)
        xd, yd, xsd = x.to(device), y.to(device), xs.to(device)
        if method == "exact":
            model = ExactGP(RBF(variance, lengthscale), noise).to(device)

            def ours(model=model, xd=xd, yd=yd, xsd=xsd):
                with torch.no_grad():
                    return model.condition(xd, yd).predict(xsd)

            sk_kernel = ConstantKernel(variance, "fixed") * SkRBF(lengthscale, "fixed")
            sk_kernel = sk_kernel + WhiteKernel(noise, "fixed")
            x_np, y_np, xs_np = x.numpy(), y.numpy(), xs.numpy()

            def reference(k=sk_kernel, x_np=x_np, y_np=y_np, xs_np=xs_np):
                gpr = GaussianProcessRegressor(k, alpha=0.0, optimizer=None)
                gpr.fit(x_np, y_np)
                return gpr.predict(xs_np, return_std=True)

            ref_name, ref_device = "sklearn", torch.device("cpu")
        else:
            import pyro
            import pyro.contrib.gp as pgp

            z = torch.linspace(0, 10, inducing, dtype=F64).unsqueeze(-1)
            model = SparseGP(RBF(variance, lengthscale), z, noise).to(device)

            def ours(model=model, xd=xd, yd=yd, xsd=xsd):
                with torch.no_grad():
                    return model.condition(xd, yd).predict(xsd)

            # Pyro keeps module parameters in a global store by name, and a new model whose
            # names are taken there reads the stored values, not its own: keep ours local.
            with pyro.settings.context(module_local_params=True):
                kern = pgp.kernels.RBF(
                    1,
                    variance=torch.tensor(variance, dtype=F64, device=device),
                    lengthscale=torch.tensor(lengthscale, dtype=F64, device=device),
                )
                sgpr = pgp.models.SparseGPRegression(
                    xd, yd, kern, z.to(device), noise=torch.tensor(noise, dtype=F64, device=device)
                )

            def reference(sgpr=sgpr, xsd=xsd):
                with torch.no_grad(), pyro.settings.context(module_local_params=True):
                    return sgpr(xsd)

            ref_name, ref_device = "pyro", device
        out, ref_out = ours(), reference()  # the warm-up, untimed; its answers are compared
        best = {"ours": math.inf, "reference": math.inf}
        sides = [("ours", ours, device), ("reference", reference, ref_device)]
        for r in range(repeats):
            for side, fn, dev in sides if r % 2 == 0 else sides[::-1]:
                best[side] = min(best[side], _timed(fn, dev)[0])
        ours_s, ref_s = best["ours"], best["reference"]
        ref_mean = torch.as_tensor(ref_out[0], dtype=F64).cpu()
        rows.append(
            {
                "method": method if method == "exact" else f"sparse VFE, m={inducing}",
                "n": n,
                "coursekit_s": ours_s,
                "reference": ref_name,
                "reference_s": ref_s,
                "ratio": ours_s / ref_s,
                "max_mean_diff": (out[0].cpu() - ref_mean).abs().max().item(),
            }
        )
    bar.close()
    return rows
