"""Experiments by name: every module of the `experiments` package that defines EXPERIMENT, the
experiments installed packages register in the entry-point group `nnbench.experiments` (an
Experiment, or a module that defines EXPERIMENT), and modules named in $NNBENCH_EXPERIMENTS
(comma-separated, importable from the current folder or the Python path).

An outside experiment may not take a built-in's name: it is refused (one line on stderr) and the
built-in stays; give it a prefix of its own (`mypkg.optimizer_compare`)."""

import importlib
import os
import pkgutil
import sys
import types

from bench.errors import UserError

EXPERIMENT_GROUP = "nnbench.experiments"
_REGISTRY = {}
_SOURCES = {}  # name -> where the experiment came from
_loaded = False


def register(experiment, source="registered in code"):
    _REGISTRY[experiment.name] = experiment
    _SOURCES[experiment.name] = source
    return experiment


def _experiment_of(obj):
    return getattr(obj, "EXPERIMENT", None) if isinstance(obj, types.ModuleType) else obj


def _add_outside(experiment, source):
    from bench.experiment import Experiment

    if not isinstance(experiment, Experiment):
        print(f"warning: {source} defines no bench.Experiment; ignored", file=sys.stderr)
    elif _SOURCES.get(experiment.name) == "built-in":
        print(f"warning: {source} is named {experiment.name!r}, a built-in experiment's name; refused (name it "
              f"with a prefix of its own, e.g. 'mypkg.{experiment.name}')", file=sys.stderr)
    else:
        register(experiment, source)


def _discover():
    global _loaded
    if _loaded:
        return
    _loaded = True
    import experiments

    for m in pkgutil.iter_modules(experiments.__path__):
        if m.name.startswith("_"):  # an experiment's private helpers (its figures and tables): not imported here
            continue
        module = importlib.import_module(f"experiments.{m.name}")
        if hasattr(module, "EXPERIMENT"):
            register(module.EXPERIMENT, "built-in")
    from bench.plugins import entry_points

    for name, ep in sorted(entry_points(EXPERIMENT_GROUP).items()):
        source = f"entry point {name} = {ep.value}" + (f" ({ep.dist.name} {ep.dist.version})" if ep.dist else "")
        try:
            loaded = ep.load()
        except Exception as e:  # one broken plugin must not take every command down
            print(f"warning: {source} cannot be loaded ({type(e).__name__}: {e}); ignored", file=sys.stderr)
            continue
        _add_outside(_experiment_of(loaded), source)
    for name in (m.strip() for m in os.environ.get("NNBENCH_EXPERIMENTS", "").split(",") if m.strip()):
        try:
            module = importlib.import_module(name)
        except ImportError as e:
            raise UserError(f"cannot import experiment module {name!r} ({e}); NNBENCH_EXPERIMENTS names modules "
                            "importable from the current folder or the Python path") from None
        _add_outside(_experiment_of(module), f"$NNBENCH_EXPERIMENTS {name}")


def all_experiments():
    _discover()
    return dict(sorted(_REGISTRY.items()))


def source(name):
    """Where an experiment came from: built-in, an entry point (with its package), $NNBENCH_EXPERIMENTS."""
    _discover()
    return _SOURCES.get(name, "")


def get(name):
    experiments = all_experiments()
    if name not in experiments:
        known = ", ".join(experiments) or "none"
        raise UserError(f"unknown experiment {name!r}: known experiments are {known} (see `python -m bench list`)")
    return experiments[name]
