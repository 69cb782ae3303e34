"""A small, real model for the reference DAGs: logistic regression in numpy on generated churn data.

Imported inside tasks only (DAG files stay cheap to parse).
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import numpy as np

FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract_length")


def generate(rows: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Customers with four numeric features; ``shift`` moves the feature distributions (drift)."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.gamma(2.0, 12.0, rows) * (1 - shift / 2),
            rng.normal(70 + 25 * shift, 20, rows),
            rng.poisson(1.5 + 2 * shift, rows),
            rng.choice([1, 12, 24], rows, p=[0.5, 0.3, 0.2]),
        ]
    )
    logits = -0.06 * x[:, 0] + 0.025 * x[:, 1] + 0.5 * x[:, 2] - 0.08 * x[:, 3] - 1.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logits))).astype(float)
    return x, y


def fit(x: np.ndarray, y: np.ndarray, steps: int = 300, lr: float = 0.5) -> dict[str, Any]:
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= lr * z.T @ (p - y) / len(y)
        b -= lr * float(np.mean(p - y))
    return {
        "weights": w.tolist(),
        "bias": b,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "features": FEATURES,
    }


def predict(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    z = (x - np.array(model["mean"])) / np.array(model["std"])
    return 1 / (1 + np.exp(-(z @ np.array(model["weights"]) + model["bias"])))


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    positives = y == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_and_evaluate(rows: int = 4000, seed: int = 7, shift: float = 0.0) -> tuple[bytes, dict[str, float]]:
    """Train on generated data; return the artifact (``model.tar.gz`` bytes) and held-out metrics."""
    x, y = generate(rows, seed, shift)
    split = int(rows * 0.8)
    model = fit(x[:split], y[:split])
    scores = predict(model, x[split:])
    metrics = {
        "auc": round(auc(y[split:], scores), 4),
        "accuracy": round(float(np.mean((scores > 0.5) == y[split:])), 4),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        payload = json.dumps(model).encode()
        info = tarfile.TarInfo("model.json")
        info.size, info.mtime = len(payload), 0  # fixed mtime: the same model gives the same digest
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue(), metrics
