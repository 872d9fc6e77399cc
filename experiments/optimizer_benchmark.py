"""Tuned optimizers on several problems (DeepOBS, Schneider et al. 2019; Schmidt et al. 2021; AlgoPerf,
Dahl et al. 2023): in each of `studies` independent tuning studies, each optimizer's search space is
sampled for `trials` settings per searched dimension on a validation split carved from the training
data, the study's best rerun with 5 seeds on the test set, and statistics across problems and studies
(Agarwal et al. 2021). docs/optimizer_benchmark.md gives the protocol."""

import time
from dataclasses import dataclass, replace

import bench
import bench.params as P
from bench.params import Choice, Float, Int
from bench.records import ACCURACY, SECONDS
from bench.tuning import FINAL, Range, Tuning
from experiments.common import dataset, train
from experiments.optimizer_grid import OPTIMIZER, check, identity, make_optimizer, optimizer_args, points_over
from nncore import MLP
from nncore.optimizers import OPTIMIZERS

SPLIT_SEED = 0  # one validation split for every cell: trials differ by their settings only


@dataclass(frozen=True)
class Problem:
    """One network on one data set with a fixed step budget and a reference test accuracy: the
    score-1 anchor of its normalised score (measure_reference), from which its target follows."""

    title: str
    data: str          # "images" (the run's --dataset), or a built-in data set's name
    hidden: tuple
    batch: int
    steps: int
    eval_every: int    # 20 evaluations per budget: a grid fine enough to time the methods
    n_val: int         # validation samples carved from the training data
    reference: dict    # data set -> reference test accuracy (measure_reference); absent: 1.0
    n_train: int = None  # the first N training samples left after the validation split (None: all)
    batchnorm: bool = False
    activation: str = "relu"
    options: tuple = ()  # the data set's own options (moons: size and noise)


PROBLEMS = {
    "mlp": Problem("784-100x4-10 ReLU MLP (the book's)", "images", (100,) * 4, batch=128, steps=2000,
                   eval_every=100, n_val=5000, reference={"fashion_mnist": 0.882}),
    "bn": Problem("784-100x5-10 with batch norm, 2,000 images", "images", (100,) * 5, batch=100, steps=400,
                  eval_every=20, n_val=5000, n_train=2000, batchnorm=True, reference={"fashion_mnist": 0.802}),
    "digits": Problem("64-64-10 ReLU on 8x8 digits", "digits", (64,), batch=32, steps=600, eval_every=30,
                      n_val=300, reference={"digits": 0.939}),
    "moons": Problem("2-32-32-2 tanh on noisy moons", "moons", (32, 32), batch=32, steps=600, eval_every=30,
                     n_val=300, activation="tanh", reference={"moons": 0.938},
                     options=(("n", 1500), ("noise", 0.25), ("seed", 0), ("n_test", 1000))),
}
TARGET = 0.95  # at the full budget, a problem's target lies 95% of the way from chance to its reference

# Each method's search space: log-uniform learning rates over the ranges where it trains at all, and
# the momentum-like constant where the method has one (beta2 and AdaGrad's epsilon stay at defaults).
SPACES = {
    "sgd": {"lr": Range(1e-3, 1.0, log=True)},
    "momentum": {"lr": Range(1e-4, 0.3, log=True), "momentum": Range(0.5, 0.99)},
    "nesterov": {"lr": Range(1e-4, 0.3, log=True), "momentum": Range(0.5, 0.99)},
    "adagrad": {"lr": Range(1e-3, 1.0, log=True)},
    "rmsprop": {"lr": Range(1e-5, 0.03, log=True), "decay_rate": Range(0.9, 0.999)},
    "adam": {"lr": Range(1e-5, 0.03, log=True), "beta1": Range(0.5, 0.95)},
}
OUTSIDE_SPACE = {"lr": Range(1e-5, 1.0, log=True)}  # an outside optimizer: its learning rate
TUNED = ("lr", "momentum", "decay_rate", "beta1")  # every parameter a space above tunes


def space(point):
    return SPACES.get(point["optimizer"], OUTSIDE_SPACE)


def problem_data(name, dataset_name, dtype):
    """The problem's data: its validation split carved from the whole training set, then the first
    n_train samples of the rest to train on; test set included (the caller drops it to tune). A small
    training pool (bn's 2,000 images) so keeps a large validation set: trials are told apart by their
    settings, not by which few hundred images they were judged on."""
    problem = PROBLEMS[name]
    source = dataset_name if problem.data == "images" else problem.data
    options = dict(problem.options)
    pool = len(dataset(source, dtype, **options).x_train)
    n_val = min(problem.n_val, pool // 5)  # a small outside or test set keeps most of its samples to train on
    data = dataset(source, dtype, validation=n_val, split_seed=SPLIT_SEED, **options)
    if problem.n_train is None:
        return data
    return replace(data, x_train=data.x_train[:problem.n_train], t_train=data.t_train[:problem.n_train])


def without_test(data):
    """The data a tune-stage cell sees: no test set at all, so nothing tuned can have read it."""
    return replace(data, x_test=None, t_test=None)


def _data_name(problem, dataset_name):
    return dataset_name if PROBLEMS[problem].data == "images" else PROBLEMS[problem].data


def reference(problem, dataset_name):
    """The problem's score-1 anchor on this data set; 1.0 (a perfect score) where none is pinned."""
    return PROBLEMS[problem].reference.get(_data_name(problem, dataset_name), 1.0)


def target(problem, dataset_name, budget=1.0):
    """The validation accuracy whose first crossing times a method: TARGET x budget^(1/20) of the way from
    chance to the problem's reference. Tuned learning curves rise fast and then flatten, so a run cut
    to 15% of its budget (--quick) gets a target a little lower (86% of the way) that it can still reach."""
    chance = 1 / n_classes(problem)
    return chance + TARGET * budget ** 0.05 * (reference(problem, dataset_name) - chance)


def run(params, rng, load=problem_data):
    problem = PROBLEMS[params["problem"]]
    data = load(params["problem"], params["dataset"], params["dtype"])
    final = params["stage"] == FINAL
    if not final:
        data = without_test(data)
    sizes = [data.x_train.shape[1], *problem.hidden, data.n_classes]
    net = MLP(sizes, rng, activation=problem.activation, init="xavier" if problem.activation == "tanh" else "he",
              batchnorm=problem.batchnorm, dtype=params["dtype"])
    opt = make_optimizer(params)
    rec = bench.Recorder()
    steps = max(1, round(problem.steps * params["budget"]))
    every = max(1, round(problem.eval_every * params["budget"]))
    start, evaluating = time.perf_counter(), 0.0

    def evaluate(step):
        nonlocal evaluating
        began = time.perf_counter()
        epoch = step * problem.batch / len(data.x_train)
        rec.log("train_seconds", began - start - evaluating, step, epoch)  # training only, not evaluation
        rec.log("val_acc", net.accuracy(data.x_val, data.t_val), step, epoch)
        if final:
            rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step, epoch)
        evaluating += time.perf_counter() - began

    train(net, opt, data, rec, steps, problem.batch, rng, every, evaluate)
    return rec


REFERENCE_BUDGET = 4  # a problem's reference trains this many times its step budget


def measure_reference(problem, dataset_name, seeds=5):
    """A problem's anchor for a normalised score of 1 (docs/statistics.md): Adam at its default settings
    trained REFERENCE_BUDGET x the problem's steps, its final test accuracy averaged over seeds 0 to
    seeds - 1, to 3 decimals. Measured once and stored in Problem.reference, so that adding an
    optimizer to a run changes no other optimizer's score."""
    import numpy as np

    accuracies = []
    for seed in range(seeds):
        params = {"problem": problem, "dataset": dataset_name, "dtype": "float32", "stage": FINAL,
                  "budget": REFERENCE_BUDGET, "optimizer": "adam"}
        rows = run(params, np.random.default_rng(seed)).rows
        accuracies.append([value for _, _, metric, value in rows if metric == "test_acc"][-1])
    return round(float(np.mean(accuracies)), 3)


def plot(records):
    from experiments._optimizer_benchmark_report import figures

    return figures(records)


def tables(records):
    from experiments._optimizer_benchmark_report import tables as make

    return make(records)


def headline(records):
    from experiments._optimizer_benchmark_report import headline as make

    return make(records)


GRID = {"optimizer": list(OPTIMIZERS), "problem": list(PROBLEMS), "trials": [10], "studies": [3], "budget": [1.0],
        "dtype": ["float32"]}

EXPERIMENT = bench.Experiment(
    name="optimizer_benchmark",
    description="six optimizers, each tuned in 3 independent studies (10 quasi-random trials per searched "
                "dimension on a validation split) on four problems, each study's best rerun with 5 seeds on the test "
                "set; normalised scores, IQM, probability of improvement, performance profiles",
    run=run,
    plot=plot,
    tables=tables,
    headline=headline,
    shows=("optimizer", "problem"),
    grid=GRID,
    points=points_over(GRID),
    extra_params=optimizer_args,
    identity=identity,
    check=check,
    tuning=Tuning(space, metric="val_acc", goal="max", params=TUNED),
    params={"optimizer": OPTIMIZER,
            "problem": Choice("problem: " + ", ".join(PROBLEMS), *PROBLEMS),
            "trials": Int("tuning trials per searched dimension of each optimizer, problem and study (more trials "
                          "keep the first ones)", 1, 1000),
            "studies": Int("independent tuning studies, each with its own trials and seeds (more studies keep the "
                           "first ones)", 1, 20),
            "budget": Float("fraction of each problem's step budget (1: the benchmark's)", 0, 1, low_open=True),
            "dtype": P.DTYPE},
    source="DeepOBS (Schneider et al. 2019); Schmidt, Schneider & Hennig 2021; Agarwal et al. 2021; "
           "Dolan & Moré 2002",
    datasets=("mnist", "fashion_mnist"),
    seeds=5,
    quick={"trials": [2], "studies": [1], "budget": [0.15], "seeds": 2},
    version=2,
    metrics={"test_acc": ACCURACY, "val_acc": ACCURACY, "train_seconds": SECONDS},
    summary_metrics=("val_acc", "test_acc", "train_seconds"),
)


def n_classes(problem):
    """Classes of a problem's data (for the chance level of its normalised score)."""
    return 2 if PROBLEMS[problem].data == "moons" else 10

