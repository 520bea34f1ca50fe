#!/usr/bin/env python3
"""Writes tests/fixtures/stats-reference.json: reference values for core::stats, computed once
with scipy and statsmodels. The Rust tests read the numbers; they never call Python.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scipy statsmodels
    /tmp/venv/bin/python scripts/stats-reference.py

Where a package has the statistic itself, it computes it: Wilson (proportion_confint), the
exact McNemar test (contingency_tables.mcnemar), Holm (multipletests), Newcombe's interval for
independent shares (confint_proportions_2indep), the clustered standard error (OLS with
cluster-robust CR0 covariance), power and sizes (NormalIndPower with ratio=0), the percentile
bootstrap (scipy.stats.bootstrap). Newcombe's interval for *paired* shares is in neither: it is
assembled here from statsmodels' Wilson bounds by Newcombe's (1998) square-and-add formula
with his correlation correction, as in Fagerland, Lydersen and Laake's `contingencytables`.
"""

import json
import math
import pathlib

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

LEVEL = 0.95
ALPHA = 1 - LEVEL


def wilson(k, n):
    lo, hi = proportion_confint(k, n, alpha=ALPHA, method="wilson")
    return float(lo), float(hi)


def wilson_cases():
    cases = [(0, 1), (1, 1), (0, 5), (0, 40), (40, 40), (9, 40), (13, 40), (20, 40),
             (1, 20), (7, 10), (999, 1000), (3, 7)]
    return [{"k": k, "n": n, "low": wilson(k, n)[0], "high": wilson(k, n)[1]} for k, n in cases]


def clustered_cases():
    rng = np.random.default_rng(24)
    out = []
    shapes = [(40, 5, "mixed"), (12, 8, "mixed"), (30, 1, "binary"), (20, 4, "all-right"),
              (25, 4, "all-half")]
    for items, per_item, kind in shapes:
        if kind == "all-right":
            samples = np.ones((items, per_item))
        elif kind == "all-half":
            samples = np.tile([1.0, 0.0], (items, per_item // 2))
        else:
            p = rng.uniform(0, 1, items)
            samples = (rng.uniform(0, 1, (items, per_item)) < p[:, None]).astype(float)
        y = samples.reshape(-1)
        groups = np.repeat(np.arange(items), per_item)
        scores = samples.mean(axis=1)
        mean = float(scores.mean())
        if np.all(y == y[0]):
            se = 0.0
        else:
            fit = sm.OLS(y, np.ones_like(y)).fit(
                cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
            se = float(fit.bse[0])
        spread = mean * (1 - mean)
        most = max(items * per_item, items)
        if spread <= 0:
            n_eff = items
        elif se <= 0:
            n_eff = most
        else:
            n_eff = min(max(spread / se**2, items), most)
        lo, hi = proportion_confint(mean * n_eff, n_eff, alpha=ALPHA, method="wilson")
        out.append({"scores": scores.tolist(), "samples": items * per_item, "mean": mean,
                    "se": se, "low": float(max(lo, 0.0)), "high": float(min(hi, 1.0))})
    return out


def newcombe_paired(both, b_only, a_only, neither):
    """B against A; the 2x2 table of B (rows) by A (columns): [[both, b_only], [a_only, neither]]."""
    n = both + b_only + a_only + neither
    kb, ka = both + b_only, both + a_only
    pb, pa = kb / n, ka / n
    lb, ub = wilson(kb, n)
    la, ua = wilson(ka, n)
    margins = [kb, n - kb, ka, n - ka]
    if 0 in margins:
        phi = 0.0
    else:
        cross = both * neither - b_only * a_only
        if cross > n / 2:
            c = cross - n / 2
        elif cross >= 0:
            c = 0.0
        else:
            c = cross
        phi = c / math.sqrt(math.prod(margins))
    d = pb - pa
    low = d - math.sqrt(max((pb - lb) ** 2 + (ua - pa) ** 2 - 2 * phi * (pb - lb) * (ua - pa), 0))
    high = d + math.sqrt(max((pa - la) ** 2 + (ub - pb) ** 2 - 2 * phi * (pa - la) * (ub - pb), 0))
    return max(low, -1.0), min(high, 1.0)


def paired_cases():
    tables = [(0, 0, 0, 1), (1, 0, 0, 0), (0, 1, 0, 0), (20, 0, 0, 20), (0, 0, 0, 40),
              (40, 0, 0, 0), (10, 7, 2, 21), (5, 12, 3, 20), (1, 7, 1, 12), (59, 16, 6, 80),
              (3, 0, 5, 2), (400, 60, 40, 500), (6, 3, 3, 28)]
    out = []
    for both, b_only, a_only, neither in tables:
        a = np.array([1] * both + [0] * b_only + [1] * a_only + [0] * neither, dtype=float)
        b = np.array([1] * both + [1] * b_only + [0] * a_only + [0] * neither, dtype=float)
        d = b - a
        se = float(np.std(d, ddof=0) / math.sqrt(len(d)))
        p = float(mcnemar([[both, b_only], [a_only, neither]], exact=True).pvalue)
        low, high = newcombe_paired(both, b_only, a_only, neither)
        out.append({"both": both, "b_only": b_only, "a_only": a_only, "neither": neither,
                    "diff": float(d.mean()), "se": se, "p": p, "low": low, "high": high})
    return out


def bootstrap_cases():
    rng = np.random.default_rng(7)
    out = []
    for n, shift in [(60, 0.08), (40, 0.0), (30, -0.15)]:
        a = rng.integers(0, 6, n) / 5.0
        b = np.clip(a + rng.normal(shift, 0.2, n), 0, 1)
        b = np.round(b * 5) / 5
        d = b - a
        res = stats.bootstrap((d,), np.mean, n_resamples=200_000, method="percentile",
                              confidence_level=LEVEL, random_state=np.random.default_rng(1))
        means = rng.choice(d, size=(200_000, n), replace=True).mean(axis=1)
        mean = d.mean()
        p = (1 + np.sum(np.abs(means - mean) >= abs(mean) - 1e-12)) / (1 + len(means))
        out.append({"a": a.tolist(), "b": b.tolist(), "diff": float(mean),
                    "se": float(np.std(d, ddof=0) / math.sqrt(n)),
                    "low": float(res.confidence_interval.low),
                    "high": float(res.confidence_interval.high), "p": float(min(p, 1.0))})
    return out


def holm_cases():
    cases = [[0.01, 0.04, 0.03, 0.005], [0.5], [1.0, 1.0], [0.02, 0.02, 0.02],
             [0.001, 0.2, 0.049, 0.9, 0.0125], []]
    return [{"p": p, "adjusted": multipletests(p, method="holm")[1].tolist() if p else []}
            for p in cases]


def power_cases():
    power = NormalIndPower()
    out = []
    for delta, sd, n, alpha, target in [(0.05, math.sqrt(0.3), 40, 0.05, 0.8),
                                        (0.15, 0.5, 100, 0.05, 0.8),
                                        (0.10, 0.4, 200, 0.0125, 0.9),
                                        (0.25, math.sqrt(0.3), 40, 0.05, 0.8),
                                        (0.02, 0.3, 1000, 0.05, 0.8)]:
        es = delta / sd
        got = float(power.power(effect_size=es, nobs1=n, alpha=alpha, ratio=0))
        nobs = float(power.solve_power(effect_size=es, nobs1=None, alpha=alpha, power=target,
                                       ratio=0))
        mde = float(power.solve_power(effect_size=None, nobs1=n, alpha=alpha, power=target,
                                      ratio=0)) * sd
        out.append({"delta": delta, "sd": sd, "items": n, "alpha": alpha, "target": target,
                    "power": got, "items_needed": math.ceil(nobs - 1e-9),
                    "minimum_detectable": mde})
    return out


def unpaired_cases():
    out = []
    for ka, na, kb, nb in [(6, 10, 4, 10), (0, 20, 0, 20), (12, 20, 8, 20), (30, 40, 10, 15),
                           (1, 1, 0, 3)]:
        lo, hi = confint_proportions_2indep(kb, nb, ka, na, method="newcomb", compare="diff",
                                            alpha=ALPHA)
        out.append({"k_a": ka, "n_a": na, "k_b": kb, "n_b": nb, "low": float(lo),
                    "high": float(hi)})
    return out


def main():
    data = {
        "generated_by": f"scripts/stats-reference.py (scipy {scipy.__version__}, "
                        f"statsmodels {statsmodels.__version__})",
        "level": LEVEL,
        "z": float(stats.norm.ppf(1 - ALPHA / 2)),
        "wilson": wilson_cases(),
        "clustered": clustered_cases(),
        "paired": paired_cases(),
        "bootstrap": bootstrap_cases(),
        "holm": holm_cases(),
        "power": power_cases(),
        "unpaired": unpaired_cases(),
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/stats-reference.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
