"""``python -m coursekit.gp``: the benchmark, printed."""

from coursekit.gp.benchmark import bench

if __name__ == "__main__":
    for row in bench():
        print(
            f"{row['method']:>20} n={row['n']:>7}  coursekit {row['coursekit_s']:.3f} s  "
            f"{row['reference']} {row['reference_s']:.3f} s  ratio {row['ratio']:.2f}  "
            f"max|mean diff| {row['max_mean_diff']:.1e}"
        )
