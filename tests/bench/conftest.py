"""Helpers the tests of bench's modules share: a run's identity, one-line errors, manifests and records."""

import re

import numpy as np
import pandas as pd
import pytest

from bench.errors import UserError
from bench.tables import CellRows, combine

IDENTITY = {"experiment": "toy", "version": 1, "dataset": "moons", "root_seed": 0}


def one_line(message):
    return pytest.raises(UserError, match="^" + re.escape(message) + "$")


def manifest(cells=None, **config):
    return {"config": {**IDENTITY, **config}, "cells": cells or {}}


def records(value=1.0):
    return CellRows({"experiment": "toy", "cell_id": "c", "seed": 1, "lr": 0.1}, [0, 1], [np.nan, 1.0],
                    ["loss", "loss"], [value, value / 2])


def summary_frame(means, stds=0.01, n=5, **params):
    """A run's summary: one row per metric (loss, accuracy, gap, as many as `means`) of one setting."""
    metrics = ["loss", "accuracy", "gap"][:len(means)]
    return pd.DataFrame({**params, "metric": metrics, "mean": means, "std": stds, "ci95_low": np.nan,
                         "ci95_high": np.nan, "min": np.nan, "max": np.nan, "n": n, "n_diverged": 0})


def stored_run(root, experiment, name, summary):
    """A finished run folder root/experiment/name holding `summary`, pointed to as the latest."""
    from bench.store import RunStore

    store = RunStore(root / experiment / name)
    store.open({**IDENTITY, "experiment": experiment})
    store.write_manifest(manifest(experiment=experiment))
    store.write_tables(combine([records()]), summary)
    store.point_latest()
    store.close()
    return store.folder


def fake_records(levels, seeds, steps=12, extra=None, metric="loss"):
    """Tidy records of `levels` (dicts of parameters) x seeds, a decreasing noisy curve each."""
    rng = np.random.default_rng(0)
    rows = []
    for i, params in enumerate(levels):
        for seed in range(seeds):
            cell = f"{i:04d}{seed:04d}"
            values = np.linspace(2.0, 0.5, steps) + 0.05 * rng.standard_normal(steps)
            for step, v in enumerate(values):
                rows.append({"experiment": "x", "cell_id": cell, "seed": seed, **params, **(extra or {}),
                             "dataset": "moons", "step": step, "epoch": step / 4, "metric": metric, "value": v})
    return pd.DataFrame(rows)


def seed_only_runs(rng, comparisons, settings=6, seeds=3):
    """Two runs of identical settings with different seeds, as (a, b) of shape (comparisons, settings,
    2 metrics, seeds): true means 0.3 and 0.9, seed-to-seed sd 0.02."""
    shape = (comparisons, settings, 2, seeds)
    truth = np.stack([np.full(settings, 0.3), np.full(settings, 0.9)], axis=-1)[None, :, :, None]
    a = truth + 0.02 * rng.standard_normal(shape)
    b = truth + 0.02 * rng.standard_normal(shape)
    return a, b
