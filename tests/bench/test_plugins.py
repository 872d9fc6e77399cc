"""bench.plugins in process: outside optimizers by module:attr or entry point, their arguments, interface
checks and one-line errors, the digest of their code, their package, and how they are made."""

import hashlib
import sys
from importlib import metadata
from pathlib import Path

import pytest

from bench import plugins, registry
from bench.errors import UserError
from bench.grid import expand, parse_overrides, resolve_grid
from bench.params import Param
from nncore.optimizers import SGD, Adam
from tests.bench.conftest import one_line
from tests.helpers import HALF_SGD, fake_distribution


def test_optimizer_arguments_are_checked_before_any_cell(module_dir):
    exp = registry.get("optimizer_compare")
    with pytest.raises(UserError, match="unknown parameter 'scale'"):
        parse_overrides(["scale=0.5"], exp)  # no optimizer of the grid takes it
    assert parse_overrides(["optimizer=myopt:HalfSGD", "scale=0.5"], exp)["scale"] == [0.5]
    with pytest.raises(UserError, match="bad value for momentum"):
        parse_overrides(["optimizer=momentum", "momentum=abc"], exp)
    with pytest.raises(UserError, match="bad optimizer setting: .*momentum must be in"):
        resolve_grid(exp, parse_overrides(["optimizer=momentum", "momentum=1.5"], exp), "digits")


def test_cell_ids_follow_the_optimizers_source(module_dir):
    exp = registry.get("optimizer_compare")

    def ids():
        plugins._resolve.cache_clear()
        grid, dataset, seeds = resolve_grid(exp, parse_overrides(["optimizer=sgd,myopt:HalfSGD"], exp), "digits")
        return {c.params["optimizer"]: c.cell_id for c in expand(exp, grid, dataset, 1)}

    before = ids()
    assert ids() == before  # nothing changed: the same cells
    (module_dir / "myopt.py").write_text(HALF_SGD.replace("scale=0.5", "scale=0.4"))
    after = ids()
    assert after["sgd"] == before["sgd"] and after["myopt:HalfSGD"] != before["myopt:HalfSGD"]


OUTSIDE_CLASSES = '''

class NoUpdate:
    pass


class StillNoUpdate:
    update = 3


class NeedsArg:
    def __init__(self, size):
        pass


class Broken:
    def __init__(self, lr=0.1):
        raise RuntimeError("no")


class Flexible:
    def __init__(self, lr=0.1, *args, beta=0.9, **options):
        self.lr, self.beta = lr, beta

    def update(self, params, grads):
        pass


class Checked:
    def __init__(self, lr=0.1, scale=0.5):
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.lr, self.scale = lr, scale

    def update(self, params, grads):
        pass


NUMBER = 3
'''


@pytest.fixture
def outside(module_dir, monkeypatch):
    """myopt.py with HalfSGD and broken or unusual optimizers; no outside optimizer resolved yet."""
    (module_dir / "myopt.py").write_text(HALF_SGD + OUTSIDE_CLASSES)
    monkeypatch.setattr(plugins, "_OUTSIDE", {})
    return module_dir


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where fake installed packages go; their modules are forgotten afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    plugins._resolve.cache_clear()
    yield folder
    for name in ("halfopt", "grouped"):
        sys.modules.pop(name, None)
    plugins._resolve.cache_clear()


def halfopt(site, entry_points=""):
    """An installed package `halfopt` (version 1.0) whose module halfopt.py holds HalfSGD."""
    (site / "halfopt.py").write_text(HALF_SGD)
    fake_distribution(site, "halfopt", entry_points)
    (site / "halfopt-1.0.dist-info" / "top_level.txt").write_text("halfopt\n")
    return hashlib.sha256(HALF_SGD.encode()).hexdigest()


def test_a_spec_defaults_to_a_built_in_with_no_arguments_digest_or_package():
    spec = plugins.OptimizerSpec("x", object)
    assert (spec.kwargs, spec.source, spec.digest, spec.package, spec.version) == ({}, "built-in", "", "", "")
    assert spec.builtin is True
    assert plugins.OptimizerSpec("m:X", object, source="m:X").builtin is False


def test_a_built_in_optimizer_is_found_by_any_case_with_the_books_defaults(monkeypatch):
    monkeypatch.setattr(plugins, "_OUTSIDE", {})
    plugins._resolve.cache_clear()
    assert plugins.optimizer("sgd") == plugins.OptimizerSpec("sgd", SGD, {"lr": 0.01})
    assert plugins.optimizer("Adam") == plugins.OptimizerSpec("Adam", Adam, {"lr": 0.001, "beta1": 0.9, "beta2": 0.999})
    assert plugins.loaded() == {}


def test_an_outside_optimizer_by_module_attr_has_its_arguments_source_and_digest(outside):
    spec = plugins.optimizer("myopt:HalfSGD")
    assert spec.factory is sys.modules["myopt"].HalfSGD and spec.builtin is False
    digest = hashlib.sha256((outside / "myopt.py").read_bytes()).hexdigest()
    assert (spec.name, spec.kwargs, spec.source, spec.digest, spec.package, spec.version) == (
        "myopt:HalfSGD", {"lr": 0.05, "scale": 0.5}, "myopt:HalfSGD", digest, "", "")
    plugins.optimizer("sgd")
    assert plugins.loaded() == {"myopt:HalfSGD": {"source": "myopt:HalfSGD", "sha256": digest, "package": "",
                                                  "version": ""}}


def test_only_keyword_arguments_with_defaults_become_parameters(outside):
    assert plugins.optimizer("myopt:Flexible").kwargs == {"lr": 0.1, "beta": 0.9}


@pytest.mark.parametrize("name, message", [
    ("nomodule:Opt", "optimizer 'nomodule:Opt': cannot import 'nomodule' (No module named 'nomodule'); install it, "
                     "or run from the folder that holds it"),
    ("myopt:Missing", "optimizer 'myopt:Missing': module 'myopt' has no 'Missing'"),
    ("myopt:NUMBER", "optimizer 'myopt:NUMBER' is not a class or function that nnbench can call"),
    ("myopt:NeedsArg", "optimizer 'myopt:NeedsArg': its argument 'size' has no default; every argument needs one "
                       "(the grid sets only what the user asks)"),
    ("myopt:Broken", "optimizer 'myopt:Broken' cannot be made with its defaults: RuntimeError: no"),
    ("myopt:NoUpdate", "optimizer 'myopt:NoUpdate' has no update(params, grads) method: it needs nncore's optimizer "
                       "interface (see nncore.optimizers)"),
    ("myopt:StillNoUpdate", "optimizer 'myopt:StillNoUpdate' has no update(params, grads) method: it needs nncore's "
                            "optimizer interface (see nncore.optimizers)"),
])
def test_an_outside_optimizer_that_cannot_serve_is_one_line(outside, name, message):
    with one_line(message):
        plugins.optimizer(name)
    assert plugins.loaded() == {}


def test_an_unknown_name_lists_the_built_ins_and_the_registered_names(monkeypatch):
    plugins._resolve.cache_clear()
    monkeypatch.setattr(plugins, "entry_points", lambda group: {})
    with one_line("unknown optimizer 'adamw': choose from sgd, momentum, nesterov, adagrad, rmsprop, adam, or name "
                  "one as module:attr"):
        plugins.optimizer("adamw")
    plugins._resolve.cache_clear()
    fake = {name: metadata.EntryPoint(name, f"pkg:{name}", plugins.OPTIMIZER_GROUP) for name in ("zeta", "half")}
    monkeypatch.setattr(plugins, "entry_points", lambda group: fake if group == "nnbench.optimizers" else {})
    with one_line("unknown optimizer 'adamw': choose from sgd, momentum, nesterov, adagrad, rmsprop, adam, half, "
                  "zeta, or name one as module:attr"):
        plugins.optimizer("adamw")
    plugins._resolve.cache_clear()


def test_entry_points_maps_a_groups_names_to_their_entry_points(site):
    fake_distribution(site, "grouped",
                      "[nnbench.tests]\nb = grouped:B\na = grouped:A\n\n[other.group]\nc = grouped:C\n")
    found = plugins.entry_points("nnbench.tests")
    assert sorted(found) == ["a", "b"]
    assert (found["a"].value, found["a"].group, found["b"].value) == ("grouped:A", "nnbench.tests", "grouped:B")
    assert plugins.entry_points("nnbench.nothing") == {}


def test_an_installed_package_registers_an_optimizer_by_name(site, monkeypatch):
    monkeypatch.setattr(plugins, "_OUTSIDE", {})
    digest = halfopt(site, "[nnbench.optimizers]\nhalf = halfopt:HalfSGD\n")
    spec = plugins.optimizer("half")
    assert spec.factory is sys.modules["halfopt"].HalfSGD
    assert (spec.name, spec.kwargs, spec.source, spec.digest, spec.package, spec.version) == (
        "half", {"lr": 0.05, "scale": 0.5}, "entry point halfopt:HalfSGD", digest, "halfopt", "1.0")
    assert plugins.loaded() == {"half": {"source": "entry point halfopt:HalfSGD", "sha256": digest,
                                         "package": "halfopt", "version": "1.0"}}


def test_a_module_attr_from_an_installed_package_names_that_package(site):
    halfopt(site)
    spec = plugins.optimizer("halfopt:HalfSGD")
    assert (spec.source, spec.package, spec.version) == ("halfopt:HalfSGD", "halfopt", "1.0")


def test_an_entry_point_without_a_distribution_finds_its_package_by_module(module_dir, monkeypatch):
    ep = metadata.EntryPoint("mine", "myopt:HalfSGD", "nnbench.optimizers")
    monkeypatch.setattr(plugins, "entry_points", lambda group: {"mine": ep})
    spec = plugins.optimizer("mine")
    assert (spec.source, spec.package, spec.version) == ("entry point myopt:HalfSGD", "", "")


def test_an_entry_point_that_cannot_load_is_one_line(monkeypatch):
    plugins._resolve.cache_clear()
    ep = metadata.EntryPoint("broken", "nowhere_at_all:Thing", "nnbench.optimizers")
    monkeypatch.setattr(plugins, "entry_points", lambda group: {"broken": ep})
    with one_line("optimizer 'broken' (entry point nowhere_at_all:Thing) cannot be loaded: No module named "
                  "'nowhere_at_all'"):
        plugins.optimizer("broken")
    plugins._resolve.cache_clear()


def test_package_of_names_the_distribution_of_a_modules_top_level_package(site):
    halfopt(site)
    assert plugins._package_of("halfopt") == "halfopt"
    assert plugins._package_of("halfopt.sub.module") == "halfopt"
    assert plugins._package_of("not_installed_anywhere") == ""


def test_the_digest_is_the_sha256_of_the_file_that_defines_the_optimizer(module_dir):
    spec = plugins.optimizer("myopt:HalfSGD")
    assert spec.digest == hashlib.sha256(HALF_SGD.encode()).hexdigest()
    assert plugins._digest(spec.factory) == spec.digest  # unchanged code: the same digest
    edited = HALF_SGD.replace("scale=0.5", "scale=0.4")
    (module_dir / "myopt.py").write_text(edited)
    assert plugins._digest(spec.factory) == hashlib.sha256(edited.encode()).hexdigest()


def test_the_digest_of_a_compiled_extensions_class_is_that_of_its_library():
    import numpy as np

    library = Path(sys.modules[np.random.Generator.__module__].__file__)
    assert library.suffix in {".so", ".pyd"}
    assert plugins._digest(np.random.Generator) == hashlib.sha256(library.read_bytes()).hexdigest()


def test_the_digest_of_something_without_a_file_is_empty():
    assert plugins._digest(len) == "" and plugins._digest(dict) == ""


@pytest.mark.parametrize("default, kind, help_text", [
    (0.9, "float", "beta of the optimizer (null: its default, 0.9)"),
    (1, "float", "beta of the optimizer (null: its default, 1)"),
    (True, "bool", "beta of the optimizer (null: its default, True)"),
    ("fast", "str", "beta of the optimizer (null: its default, 'fast')"),
    (None, "float", "beta of the optimizer (null: its default, None)"),
])
def test_an_optimizer_argument_becomes_a_nullable_parameter_typed_by_its_default(default, kind, help_text):
    assert plugins.param_for("beta", default) == Param(kind, help_text, nullable=True)


def test_make_keeps_the_optimizers_own_lr_unless_one_is_given_and_drops_nulls_and_strangers(outside):
    spec = plugins.optimizer("myopt:HalfSGD")
    made = plugins.make(spec)
    assert type(made) is sys.modules["myopt"].HalfSGD and (made.lr, made.scale) == (0.05, 0.5)
    made = plugins.make(spec, lr=None, scale=None, momentum=0.9)
    assert (made.lr, made.scale) == (0.05, 0.5)
    made = plugins.make(spec, lr=0.2, scale=0.25, beta=None)
    assert (made.lr, made.scale) == (0.2, 0.25)
    adam = plugins.make(plugins.optimizer("adam"), lr=0.01)
    assert type(adam) is Adam and (adam.lr, adam.beta1, adam.beta2) == (0.01, 0.9, 0.999)
    assert plugins.make(plugins.optimizer("adam")).lr == 0.001


def test_make_reports_an_optimizer_that_refuses_its_arguments(outside):
    spec = plugins.optimizer("myopt:Checked")
    with pytest.raises(ValueError) as refused:
        plugins.make(spec, lr=0.3, scale=-1.0)
    assert str(refused.value) == ("optimizer 'myopt:Checked' refused {'scale': -1.0, 'lr': 0.3}: "
                                  "scale must be > 0, got -1.0")
