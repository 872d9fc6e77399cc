"""Optimizers from outside nnbench: `module:attr`, or a name an installed package registers in the
entry-point group `nnbench.optimizers` (the convention of pytest's and asv's plugins).

An outside optimizer is a class (or factory) whose keyword arguments all have defaults and whose
instances have nncore's interface, `update(params, grads)`, changing the parameter arrays in place.
Its keyword arguments become grid parameters; the SHA-256 of its source file is part of each cell's
identity, so editing the optimizer gives new cells instead of reusing stale ones.
"""

import functools
import importlib
import inspect
from dataclasses import dataclass, field
from importlib import metadata

from bench.errors import UserError

OPTIMIZER_GROUP = "nnbench.optimizers"


@dataclass(frozen=True)
class OptimizerSpec:
    name: str  # as the grid names it: "adam", "mypkg.opt:Lion", "lion"
    factory: object
    kwargs: dict = field(default_factory=dict)  # keyword argument -> default
    source: str = "built-in"  # where it came from, for people
    digest: str = ""  # SHA-256 of its source file ("" for the built-ins, which nnbench's version pins)
    package: str = ""  # the distribution that provides it, and its version
    version: str = ""

    @property
    def builtin(self):
        return self.source == "built-in"


def entry_points(group):
    """{name: EntryPoint} of an entry-point group."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


_OUTSIDE = {}  # name -> OptimizerSpec of every outside optimizer this process resolved


def optimizer(name):
    """The OptimizerSpec for a name in an `optimizer` grid parameter, or a one-line UserError."""
    spec = _resolve(name)
    if not spec.builtin:
        _OUTSIDE[name] = spec
    return spec


def loaded():
    """What a manifest records of the outside optimizers in use: where each came from, the SHA-256 of
    its source and the version of the package that provides it."""
    return {s.name: {"source": s.source, "sha256": s.digest, "package": s.package, "version": s.version}
            for s in _OUTSIDE.values()}


@functools.cache
def _resolve(name):
    from nncore.optimizers import OPTIMIZERS

    if name.lower() in OPTIMIZERS:
        factory = OPTIMIZERS[name.lower()]
        return OptimizerSpec(name, factory, _keywords(name, factory))
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise UserError(f"optimizer {name!r}: cannot import {module_name!r} ({e}); install it, or run from "
                            "the folder that holds it") from None
        if not hasattr(module, attr):
            raise UserError(f"optimizer {name!r}: module {module_name!r} has no {attr!r}")
        factory, source, package = getattr(module, attr), f"{module_name}:{attr}", _package_of(module_name)
    else:
        found = entry_points(OPTIMIZER_GROUP)
        if name not in found:
            raise UserError(f"unknown optimizer {name!r}: choose from {', '.join(OPTIMIZERS)}"
                            f"{', ' + ', '.join(sorted(found)) if found else ''}, or name one as module:attr")
        ep = found[name]
        try:
            factory = ep.load()
        except Exception as e:  # an installed plugin that cannot load: say which
            raise UserError(f"optimizer {name!r} (entry point {ep.value}) cannot be loaded: {e}") from None
        source = f"entry point {ep.value}"
        package = ep.dist.name if ep.dist else _package_of(ep.module)
    kwargs = _keywords(name, factory)
    _check_interface(name, factory)
    version = ""
    if package:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            package = ""
    return OptimizerSpec(name, factory, kwargs, source, _digest(factory), package, version)


def _keywords(name, factory):
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        raise UserError(f"optimizer {name!r} is not a class or function that nnbench can call") from None
    kwargs = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise UserError(f"optimizer {name!r}: its argument {p.name!r} has no default; every argument needs "
                            "one (the grid sets only what the user asks)")
        kwargs[p.name] = p.default
    return kwargs


def _check_interface(name, factory):
    try:
        instance = factory()
    except Exception as e:
        raise UserError(f"optimizer {name!r} cannot be made with its defaults: {type(e).__name__}: {e}") from None
    if not callable(getattr(instance, "update", None)):
        raise UserError(f"optimizer {name!r} has no update(params, grads) method: it needs nncore's optimizer "
                        "interface (see nncore.optimizers)")


def _digest(factory):
    """SHA-256 of the file that defines `factory`: its content, not its name, identifies a cell."""
    from nncore.datasets.download import file_digest

    try:
        return file_digest(inspect.getsourcefile(factory) or inspect.getfile(factory))
    except (TypeError, OSError):
        return ""


def _package_of(module_name):
    """The installed distribution that provides a module ("" for a module that is only a file on the path)."""
    return (metadata.packages_distributions().get(module_name.split(".")[0]) or [""])[0]


def param_for(name, default):
    """A grid parameter for an optimizer's keyword argument, typed by its default; null keeps the default."""
    from bench.params import Param

    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(default), "float")
    if kind == "int":  # 0.9 for an argument whose default is 1 is still a number the optimizer may take
        kind = "float"
    return Param(kind, f"{name} of the optimizer (null: its default, {default!r})", nullable=True)


def make(spec, lr=None, **kwargs):
    """An optimizer instance: lr=None keeps its own default; kwargs with the value None are left out."""
    args = {k: v for k, v in kwargs.items() if v is not None and k in spec.kwargs}
    if lr is not None:
        args["lr"] = lr
    try:
        return spec.factory(**args)
    except (TypeError, ValueError) as e:
        raise ValueError(f"optimizer {spec.name!r} refused {args}: {e}") from None
