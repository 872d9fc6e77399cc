"""Experiments by name: every module of the `experiments` package that defines EXPERIMENT, plus
modules named in $NNBENCH_EXPERIMENTS (comma-separated), for experiments kept elsewhere."""

import importlib
import os
import pkgutil

from bench.errors import UserError

_REGISTRY = {}
_loaded = False


def register(experiment):
    _REGISTRY[experiment.name] = experiment
    return experiment


def _discover():
    global _loaded
    if _loaded:
        return
    _loaded = True
    import experiments

    modules = [f"experiments.{m.name}" for m in pkgutil.iter_modules(experiments.__path__)]
    modules += [m.strip() for m in os.environ.get("NNBENCH_EXPERIMENTS", "").split(",") if m.strip()]
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise UserError(f"cannot import experiment module {name!r} ({e}); check NNBENCH_EXPERIMENTS") from None
        if hasattr(module, "EXPERIMENT"):
            register(module.EXPERIMENT)


def all_experiments():
    _discover()
    return dict(sorted(_REGISTRY.items()))


def get(name):
    experiments = all_experiments()
    if name not in experiments:
        known = ", ".join(experiments) or "none"
        raise UserError(f"unknown experiment {name!r}: known experiments are {known} (see `python -m bench list`)")
    return experiments[name]
