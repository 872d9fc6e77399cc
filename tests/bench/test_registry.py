"""bench.registry in process: built-in experiments, outside ones from entry points and
$NNBENCH_EXPERIMENTS (a clash with a built-in refused), where each came from, and unknown names."""

import importlib
import sys
import types
from importlib import metadata

import pytest

import experiments
from bench import plugins, registry
from bench.errors import UserError
from bench.experiment import Experiment
from tests.bench.conftest import one_line
from tests.helpers import fake_distribution

README_EXPERIMENTS = ["optimizer_compare", "optimizer_benchmark", "weight_init_compare", "batchnorm_scales",
                      "hidden_size_sweep", "inference_speed", "weight_decay", "dropout", "hyperparameter_search", "xor",
                      "mnist_sgd", "two_layer_net", "gradient_check", "digits_depth", "nielsen_sgd"]


def experiment(name):
    return Experiment(name=name, description="a stand-in", run=print, plot=print, grid={})


def module_text(name):
    return ("import bench\n\n"
            f"EXPERIMENT = bench.Experiment(name={name!r}, description='x', run=print, plot=print, grid={{}})\n")


def module(name, **attributes):
    m = types.ModuleType(name)
    m.__dict__.update(attributes)
    return m


@pytest.fixture
def fresh(monkeypatch):
    """An empty registry, not yet discovered; no entry points, no $NNBENCH_EXPERIMENTS."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_SOURCES", {})
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(plugins, "entry_points", lambda group: {})
    monkeypatch.delenv("NNBENCH_EXPERIMENTS", raising=False)


@pytest.fixture
def empty(fresh, monkeypatch, tmp_path):
    """A fresh registry over an `experiments` package with no modules: nothing to discover."""
    monkeypatch.setattr(experiments, "__path__", [str(tmp_path)])


@pytest.fixture
def stand_in(fresh, monkeypatch, tmp_path):
    """The `experiments` package is a folder of stand-ins: zz_alpha.py (experiment "alpha"), zz_beta.py
    ("beta"), zz_helpers.py (no EXPERIMENT) and _zz_private.py, which fails if anything imports it; a
    folder `site` on the path holds the outside modules a test writes there."""
    package, site = tmp_path / "experiments", tmp_path / "site"
    package.mkdir()
    site.mkdir()
    (package / "zz_alpha.py").write_text(module_text("alpha"))
    (package / "zz_beta.py").write_text(module_text("beta"))
    (package / "zz_helpers.py").write_text("HELP = 1\n")
    (package / "_zz_private.py").write_text(module_text("private") + "raise RuntimeError('imported')\n")
    monkeypatch.setattr(experiments, "__path__", [str(package)])
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        if name.startswith(("experiments.zz_", "experiments._zz_", "zz_")):
            del sys.modules[name]
            experiments.__dict__.pop(name.removeprefix("experiments."), None)


def entry_points_of(site, monkeypatch, text):
    """bench.plugins.entry_points as it answers with one installed package, `mine` 1.0, whose
    entry_points.txt is `text`."""
    fake_distribution(site, "mine", text)
    dist = metadata.Distribution.at(site / "mine-1.0.dist-info")
    monkeypatch.setattr(plugins, "entry_points",
                        lambda group: {ep.name: ep for ep in dist.entry_points if ep.group == group})


def stand_in_module(name):
    return importlib.import_module(f"experiments.{name}").EXPERIMENT


def test_register_returns_the_experiment_and_get_finds_it(empty):
    mine = experiment("mine")
    assert registry.register(mine) is mine
    assert registry.get("mine") is mine
    assert registry.source("mine") == "registered in code"
    other = experiment("other")
    registry.register(other, "a notebook")
    assert registry.source("other") == "a notebook"
    assert registry.all_experiments() == {"mine": mine, "other": other}


def test_registering_a_name_again_replaces_the_experiment_and_its_source(empty):
    registry.register(experiment("mine"), "first")
    second = experiment("mine")
    registry.register(second)
    assert registry.get("mine") is second and registry.source("mine") == "registered in code"


def test_all_experiments_are_in_name_order(empty):
    for name in ["b", "c", "a", "B"]:
        registry.register(experiment(name))
    assert list(registry.all_experiments()) == ["B", "a", "b", "c"]


def test_an_unknown_name_is_one_line_naming_the_known_experiments(empty):
    registry.register(experiment("beta"))
    registry.register(experiment("alpha"))
    with one_line("unknown experiment 'gamma': known experiments are alpha, beta (see `python -m bench list`)"):
        registry.get("gamma")
    with pytest.raises(UserError):
        registry.get("Alpha")


def test_an_unknown_name_with_nothing_registered_says_none_are_known(empty):
    with one_line("unknown experiment 'xor': known experiments are none (see `python -m bench list`)"):
        registry.get("xor")


def test_the_source_of_an_unknown_name_is_empty(empty):
    assert registry.source("nope") == ""


def test_experiment_of_takes_an_experiment_or_a_module_that_defines_one():
    mine = experiment("mine")
    assert registry._experiment_of(mine) is mine
    assert registry._experiment_of(module("m", EXPERIMENT=mine)) is mine
    assert registry._experiment_of(module("m", OTHER=mine)) is None
    holder = types.SimpleNamespace(EXPERIMENT=mine)
    assert registry._experiment_of(holder) is holder


def test_every_experiment_of_the_readme_is_built_in(fresh):
    found = registry.all_experiments()
    assert set(README_EXPERIMENTS) <= set(found)
    assert {name: registry.source(name) for name in found} == {name: "built-in" for name in found}
    assert {"common", "optimizer_grid", "overfitting", "_optimizer_benchmark_report"}.isdisjoint(found)


def test_discovery_registers_each_public_module_that_defines_an_experiment_as_built_in(stand_in):
    assert registry.source("alpha") == "built-in"
    assert registry.all_experiments() == {"alpha": stand_in_module("zz_alpha"), "beta": stand_in_module("zz_beta")}
    assert registry.source("beta") == "built-in"
    assert "experiments._zz_private" not in sys.modules


def test_discovery_happens_once_so_later_registrations_stand(stand_in, monkeypatch):
    loads = []

    class CountingEntryPoint:
        value, dist = "counted", None

        def load(self):
            loads.append(1)
            return experiment("counted")

    monkeypatch.setattr(plugins, "entry_points", lambda group: {"counted": CountingEntryPoint()})
    replacement = experiment("alpha")
    registry.all_experiments()
    registry.register(replacement)
    assert registry.get("alpha") is replacement
    assert list(registry.all_experiments()) == ["alpha", "beta", "counted"]
    assert registry.source("alpha") == "registered in code"
    assert loads == [1]


def test_entry_points_add_experiments_with_their_package_and_refuse_a_built_in_name(stand_in, monkeypatch, capsys):
    (stand_in / "zz_mine.py").write_text(module_text("mine.toy"))
    (stand_in / "zz_clash.py").write_text(module_text("alpha"))
    (stand_in / "zz_empty.py").write_text("X = 1\n")
    (stand_in / "zz_obj.py").write_text(f"{module_text('mine.obj')}EXP = EXPERIMENT\ndel EXPERIMENT\n")
    entry_points_of(stand_in, monkeypatch, "[nnbench.experiments]\ntoy = zz_mine\nclash = zz_clash\n"
                    "empty = zz_empty\nobj = zz_obj:EXP\nbroken = zz_missing_module\n"
                    "[nnbench.optimizers]\nalso = zz_not_an_experiment\n")
    found = registry.all_experiments()
    assert list(found) == ["alpha", "beta", "mine.obj", "mine.toy"]
    assert found["alpha"] is stand_in_module("zz_alpha")
    assert found["mine.toy"] is importlib.import_module("zz_mine").EXPERIMENT
    assert found["mine.obj"] is importlib.import_module("zz_obj").EXP
    assert {name: registry.source(name) for name in found} == {
        "alpha": "built-in", "beta": "built-in", "mine.obj": "entry point obj = zz_obj:EXP (mine 1.0)",
        "mine.toy": "entry point toy = zz_mine (mine 1.0)"}
    assert capsys.readouterr().err.splitlines() == [
        "warning: entry point broken = zz_missing_module (mine 1.0) cannot be loaded "
        "(ModuleNotFoundError: No module named 'zz_missing_module'); ignored",
        "warning: entry point clash = zz_clash (mine 1.0) is named 'alpha', a built-in experiment's name; refused "
        "(name it with a prefix of its own, e.g. 'mypkg.alpha')",
        "warning: entry point empty = zz_empty (mine 1.0) defines no bench.Experiment; ignored",
    ]


def test_an_entry_point_that_fails_to_load_is_ignored_and_the_next_one_still_loads(stand_in, monkeypatch, capsys):
    (stand_in / "zz_raises.py").write_text("raise RuntimeError('broken on purpose')\n")
    (stand_in / "zz_mine.py").write_text(module_text("mine.toy"))
    entry_points_of(stand_in, monkeypatch, "[nnbench.experiments]\na = zz_raises\nb = zz_mine\n")
    assert list(registry.all_experiments()) == ["alpha", "beta", "mine.toy"]
    assert capsys.readouterr().err == ("warning: entry point a = zz_raises (mine 1.0) cannot be loaded "
                                       "(RuntimeError: broken on purpose); ignored\n")


def test_an_entry_point_without_a_package_is_named_by_its_value_alone(stand_in, monkeypatch):
    (stand_in / "zz_solo.py").write_text(module_text("solo"))
    ep = metadata.EntryPoint(name="single", value="zz_solo", group="nnbench.experiments")
    monkeypatch.setattr(plugins, "entry_points", lambda group: {"single": ep} if group == "nnbench.experiments" else {})
    assert registry.source("solo") == "entry point single = zz_solo"


def test_modules_named_in_NNBENCH_EXPERIMENTS_are_added_and_a_built_in_name_refused(stand_in, monkeypatch, capsys):
    (stand_in / "zz_env_a.py").write_text(module_text("env.a"))
    (stand_in / "zz_env_b.py").write_text(module_text("env.b"))
    (stand_in / "zz_env_clash.py").write_text(module_text("beta"))
    (stand_in / "zz_env_empty.py").write_text("X = 1\n")
    monkeypatch.setenv("NNBENCH_EXPERIMENTS", " zz_env_b , ,zz_env_clash,zz_env_empty,zz_env_a,")
    found = registry.all_experiments()
    assert list(found) == ["alpha", "beta", "env.a", "env.b"]
    assert found["beta"] is stand_in_module("zz_beta")
    assert found["env.a"] is importlib.import_module("zz_env_a").EXPERIMENT
    assert {name: registry.source(name) for name in found} == {
        "alpha": "built-in", "beta": "built-in", "env.a": "$NNBENCH_EXPERIMENTS zz_env_a",
        "env.b": "$NNBENCH_EXPERIMENTS zz_env_b"}
    assert capsys.readouterr().err.splitlines() == [
        "warning: $NNBENCH_EXPERIMENTS zz_env_clash is named 'beta', a built-in experiment's name; refused "
        "(name it with a prefix of its own, e.g. 'mypkg.beta')",
        "warning: $NNBENCH_EXPERIMENTS zz_env_empty defines no bench.Experiment; ignored",
    ]


def test_an_NNBENCH_EXPERIMENTS_module_that_cannot_be_imported_is_one_line_saying_where_it_is_looked_for(
        stand_in, monkeypatch):
    monkeypatch.setenv("NNBENCH_EXPERIMENTS", "zz_nowhere")
    with one_line("cannot import experiment module 'zz_nowhere' (No module named 'zz_nowhere'); NNBENCH_EXPERIMENTS "
                  "names modules importable from the current folder or the Python path"):
        registry.get("alpha")

