"""Benchmark: the validation report's bootstrap CIs, library vs scikit-learn called on every resample (run by hand).

    .venv/bin/python benchmarks/validation_refit.py [--repeats 3] [--n-boot 1000]

Workload: the committed per-pair table (``figures/validation_pairs.csv``). For its held-out rows, grouped by base
model as the report groups them: the balanced-accuracy CI of the committed vote rule's readings and the ROC AUC CI of
every statistic column, once through :mod:`rlmeta_interp.analysis.validation.metrics` (integer-coded counts per
resample) and once with ``balanced_accuracy_score`` / ``roc_auc_score`` called on the same resamples. Prints both
times, their ratio (target >= 5x) and the largest difference between the two paths' CI ends (must be 0 to 1e-12),
then the wall and CPU seconds of a whole ``validate --refit`` fit and report (nothing written).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from rlmeta_interp.analysis.indicators.core import INDICATORS
from rlmeta_interp.analysis.validation import committed as vc
from rlmeta_interp.analysis.validation import metrics as vm
from rlmeta_interp.benchtools import machine_line, median_seconds
from rlmeta_interp.paths import REPO_ROOT


def reference_ci(score, keep, n: int, groups, n_boot: int) -> tuple[float, float]:
    """A percentile CI with ``score(idx)`` from scikit-learn on each resample that ``keep(idx)`` admits."""
    rng, draw, boots = np.random.default_rng(0), vm.resampler(n, groups), []
    for _ in range(n_boot):
        idx = draw(rng)
        if keep(idx):
            boots.append(score(idx))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return float(lo), float(hi)


def workload(table, n_boot: int, library: bool) -> list[tuple[float, float]]:
    test = table[table["split"] == "test"]
    groups = test["base"].astype(str).tolist()
    true = np.array(test["label"].tolist(), dtype=object)
    pred = np.array(test["vote_summary"].tolist(), dtype=object)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if library:
            out.append(vm.balanced_accuracy_ci(true.tolist(), pred.tolist(), n_boot=n_boot, groups=groups)[1:])
        else:
            out.append(reference_ci(lambda i: balanced_accuracy_score(true[i], pred[i]),
                                    lambda i: len(set(true[i])) >= 2, len(true), groups, n_boot))
    two = test[test["label"] != "no_signal"]
    y = (two["label"] == "creation").to_numpy()
    for name in (c for c in INDICATORS if c in two.columns):
        s = two[name].astype(float).to_numpy()
        ok = ~np.isnan(s)
        ys, ss, gs = y[ok], s[ok], two["base"].astype(str).to_numpy()[ok].tolist()
        if ys.all() or not ys.any():
            continue
        if library:
            out.append(vm.roc_auc_ci(ss.tolist(), ys, n_boot=n_boot, groups=gs)[1:3])
        else:
            out.append(reference_ci(lambda i, ys=ys, ss=ss: roc_auc_score(ys[i], ss[i]),
                                    lambda i, ys=ys: ys[i].any() and not ys[i].all(), len(ss), gs, n_boot))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    summary, table = vc.committed_table(REPO_ROOT / "figures")
    lib, ref = workload(table, args.n_boot, True), workload(table, args.n_boot, False)
    ends = [(a, b) for x, y in zip(lib, ref, strict=True) for a, b in zip(x, y, strict=True)]
    # a CI end that is NaN on one path only is a disagreement, not a difference of 0
    diff = max(0.0 if np.isnan(a) and np.isnan(b) else abs(a - b) if not (np.isnan(a) or np.isnan(b)) else np.inf
               for a, b in ends)
    t_lib = median_seconds(lambda: workload(table, args.n_boot, True), args.repeats)
    t_ref = median_seconds(lambda: workload(table, args.n_boot, False), args.repeats)
    wall, cpu = time.perf_counter(), time.process_time()
    vc.refit(summary, table)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(machine_line())
    print(f"{'CIs (held-out rows, n_boot ' + str(args.n_boot) + ')':<48}{len(lib)}")
    print(f"{'library_s':<48}{t_lib:.3f}")
    print(f"{'sklearn_per_resample_s':<48}{t_ref:.3f}")
    print(f"{'speedup (target >= 5x)':<48}{t_ref / t_lib:.1f}x")
    print(f"{'largest CI-end difference (must be <= 1e-12)':<48}{diff:.1e}")
    print(f"{'whole refit fit + report wall_s / cpu_s':<48}{wall:.1f} / {cpu:.1f}")


if __name__ == "__main__":
    main()
