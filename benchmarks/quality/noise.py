"""What a phone reports for a true track: position error and the accuracy it claims.

Every kind starts from the same base GNSS error (a phone never reports a noise-free fix) and
adds its own trouble; the parameters and where they come from are in the package docstring.
Each fix is labelled with what was done to it, so tests can check that a kind produces what
it claims and the metrics can say which fixes misled the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE_KINDS = ("gaussian", "multipath", "drift", "mixed")

# per-fix labels
CLEAN, OUTLIER, DRIFT = 0, 1, 2

# Android's accuracy is a 68 % radius; for a circular 2-D Gaussian P(r < R) = 1 - exp(-R²/2σ²),
# so the per-axis σ is R / sqrt(-2 ln 0.32) = R / 1.51.
SIGMA_PER_ACCURACY = 1.0 / np.sqrt(-2.0 * np.log(0.32))


@dataclass(frozen=True)
class NoiseParams:
    gnss_accuracy_median_m: float = 8.0  # Zandbergen 2009: A-GPS median error 8 m
    gnss_accuracy_spread: float = 0.45  # lognormal σ: most fixes 4-20 m (Merry 2019: 7-13 m mean)
    gnss_accuracy_range_m: tuple[float, float] = (3.0, 40.0)
    gnss_error_tau_s: float = 60.0  # GNSS error wanders slowly, it is not white from fix to fix
    outlier_rate: float = 0.01  # share of fixes thrown off by multipath / NLOS
    outlier_error_m: tuple[float, float] = (150.0, 800.0)
    outlier_accuracy_m: tuple[float, float] = (10.0, 50.0)  # the receiver believes itself
    drift_episodes_per_day: float = 3.0  # indoors: home, shop, work
    drift_minutes: tuple[float, float] = (5.0, 30.0)
    drift_wifi_share: float = 0.6
    wifi_offset_m: tuple[float, float] = (150.0, 600.0)
    cell_offset_m: tuple[float, float] = (300.0, 1200.0)
    drift_jitter_m: float = 15.0  # the same access points / cells answer: fixes cluster
    drift_honest_share: float = 0.5  # half the episodes report an accuracy that covers the offset
    wifi_understated_accuracy_m: tuple[float, float] = (20.0, 60.0)
    cell_understated_accuracy_m: tuple[float, float] = (80.0, 200.0)


@dataclass
class Observed:
    x: np.ndarray
    y: np.ndarray
    accuracy_m: np.ndarray
    source: np.ndarray  # "gnss" / "wifi" / "cell"
    label: np.ndarray  # CLEAN / OUTLIER / DRIFT


def observe(kind: str, tx: np.ndarray, ty: np.ndarray, t_ms: np.ndarray,
            rng: np.random.Generator, p: NoiseParams = NoiseParams()) -> Observed:
    """Reported fixes for the true positions (tx, ty) at times t_ms, under one noise kind."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r} (expected one of {NOISE_KINDS})")
    n = len(tx)
    obs = _gnss(tx, ty, t_ms, rng, p)
    if kind in ("multipath", "mixed"):
        _outliers(obs, tx, ty, rng, p)
    if kind in ("drift", "mixed"):
        _drift(obs, tx, ty, t_ms, rng, p)
    assert len(obs.x) == n
    return obs


def _gnss(tx, ty, t_ms, rng, p: NoiseParams) -> Observed:
    n = len(tx)
    lo, hi = p.gnss_accuracy_range_m
    acc = np.clip(p.gnss_accuracy_median_m * np.exp(rng.normal(0.0, p.gnss_accuracy_spread, n)),
                  lo, hi)
    # AR(1) in units of σ, so the error keeps the claimed 68 % radius whatever the fix interval
    dt = np.diff(t_ms, prepend=t_ms[:1] if n else t_ms) / 1000.0
    rho = np.exp(-dt / p.gnss_error_tau_s)
    rho[:1] = 0.0  # the first fix starts from the stationary distribution
    e = ar1(rng.normal(size=(n, 2)), rho)
    sigma = acc * SIGMA_PER_ACCURACY
    return Observed(tx + e[:, 0] * sigma, ty + e[:, 1] * sigma, acc,
                    np.full(n, "gnss", dtype=object), np.full(n, CLEAN, dtype=np.int8))


def ar1(z: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """x[i] = rho[i] x[i-1] + sqrt(1 - rho[i]²) z[i] along axis 0 (unit variance), vectorised.

    Within a block x[i] = R[i] (x[s-1] + sum_k c[k] z[k] / R[k]) with R the running product of
    rho; blocks are cut where that product would underflow."""
    n = z.shape[0]
    rho = np.clip(np.asarray(rho, float), 1e-12, 1.0)
    c = np.sqrt(1.0 - rho**2)[:, None]
    decay = np.cumsum(-np.log(rho))
    block = np.floor(decay / 300.0).astype(np.int64)
    cuts = np.flatnonzero(np.diff(block)) + 1
    out = np.empty_like(z, dtype=float)
    prev = np.zeros(z.shape[1])
    for s, e in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        log_r = np.cumsum(np.log(rho[s:e]))[:, None]
        acc = np.cumsum(c[s:e] * z[s:e] * np.exp(-log_r), axis=0)
        out[s:e] = np.exp(log_r) * (prev + acc)
        prev = out[e - 1]
    return out


def _outliers(obs: Observed, tx, ty, rng, p: NoiseParams) -> None:
    hit = np.flatnonzero(rng.random(len(tx)) < p.outlier_rate)
    r = rng.uniform(*p.outlier_error_m, hit.size)
    a = rng.uniform(0.0, 2 * np.pi, hit.size)
    obs.x[hit] = tx[hit] + r * np.cos(a)
    obs.y[hit] = ty[hit] + r * np.sin(a)
    obs.accuracy_m[hit] = rng.uniform(*p.outlier_accuracy_m, hit.size)
    obs.label[hit] = OUTLIER


def drift_episodes(t0_ms: int, t1_ms: int, rng: np.random.Generator,
                   p: NoiseParams = NoiseParams()) -> list[tuple[int, int]]:
    """[start, end) of each indoor episode in [t0_ms, t1_ms)."""
    days = (t1_ms - t0_ms) / 86_400_000
    k = rng.poisson(p.drift_episodes_per_day * days)
    starts = np.sort(rng.uniform(t0_ms, t1_ms, k))
    minutes = rng.uniform(*p.drift_minutes, k)
    out: list[tuple[int, int]] = []
    for s, m in zip(starts.tolist(), minutes.tolist(), strict=True):
        if out and s < out[-1][1] + 60_000:
            continue  # one place at a time, and the phone is back on GNSS in between
        out.append((int(s), int(s + m * 60_000)))
    return out


def _drift(obs: Observed, tx, ty, t_ms, rng, p: NoiseParams) -> None:
    if len(t_ms) == 0:
        return
    for start, end in drift_episodes(int(t_ms[0]), int(t_ms[-1]) + 1, rng, p):
        rows = np.flatnonzero((t_ms >= start) & (t_ms < end))
        wifi = rng.random() < p.drift_wifi_share
        r = rng.uniform(*(p.wifi_offset_m if wifi else p.cell_offset_m))
        a = rng.uniform(0.0, 2 * np.pi)
        jitter = rng.normal(0.0, p.drift_jitter_m, (rows.size, 2))
        obs.x[rows] = tx[rows] + r * np.cos(a) + jitter[:, 0]
        obs.y[rows] = ty[rows] + r * np.sin(a) + jitter[:, 1]
        if rng.random() < p.drift_honest_share:
            acc = r * rng.uniform(0.7, 1.3, rows.size)
        else:
            acc = rng.uniform(*(p.wifi_understated_accuracy_m if wifi
                                else p.cell_understated_accuracy_m), rows.size)
        obs.accuracy_m[rows] = acc
        obs.source[rows] = "wifi" if wifi else "cell"
        obs.label[rows] = DRIFT
