"""Tuned optimizers on several problems (DeepOBS, Schneider et al. 2019; Schmidt et al. 2021): each
optimizer's search space sampled for `trials` settings on a validation split carved from the training
data, the best one rerun with 5 seeds on the test set, and statistics across problems that a reviewer
accepts (Agarwal et al. 2021). docs/optimizer_benchmark.md gives the protocol."""

import time
from dataclasses import dataclass, replace

import bench
import bench.params as P
from bench.params import Choice, Float, Int
from bench.tuning import FINAL, Range, Tuning
from experiments.common import dataset, train
from experiments.optimizer_grid import OPTIMIZER, check, identity, make_optimizer, optimizer_args, points_over
from nncore import MLP
from nncore.optimizers import OPTIMIZERS

SPLIT_SEED = 0  # one validation split for every cell: trials differ by their settings only


@dataclass(frozen=True)
class Problem:
    """One network on one data set with a fixed step budget and a validation-accuracy target."""

    title: str
    data: str          # "images" (the run's --dataset), or a built-in data set's name
    hidden: tuple
    batch: int
    steps: int
    eval_every: int
    n_val: int         # validation samples carved from the training data
    target: dict       # data set -> validation accuracy to reach
    n_train: int = None  # the first N training samples form the pool (None: all)
    batchnorm: bool = False
    activation: str = "relu"
    options: tuple = ()  # the data set's own options (moons: size and noise)


PROBLEMS = {
    "mlp": Problem("784-100x4-10 ReLU MLP (the book's)", "images", (100,) * 4, batch=128, steps=2000,
                   eval_every=200, n_val=5000, target={"mnist": 0.97, "fashion_mnist": 0.86}),
    "bn": Problem("784-100x5-10 with batch norm, 2,000 images", "images", (100,) * 5, batch=100, steps=400,
                  eval_every=40, n_val=500, n_train=2000, batchnorm=True,
                  target={"mnist": 0.93, "fashion_mnist": 0.80}),
    "digits": Problem("64-64-10 ReLU on 8x8 digits", "digits", (64,), batch=32, steps=600, eval_every=60,
                      n_val=300, target={"digits": 0.97}),
    "moons": Problem("2-32-32-2 tanh on noisy moons", "moons", (32, 32), batch=32, steps=600, eval_every=60,
                     n_val=300, activation="tanh", target={"moons": 0.93},
                     options=(("n", 1500), ("noise", 0.25), ("seed", 0), ("n_test", 1000))),
}

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
    """The problem's data with its validation split; test set included (the caller drops it to tune)."""
    problem = PROBLEMS[name]
    source = dataset_name if problem.data == "images" else problem.data
    pool = len(dataset(source, dtype, n_train=problem.n_train, **dict(problem.options)).x_train)
    n_val = min(problem.n_val, pool // 5)  # a small outside or test set keeps most of its samples to train on
    return dataset(source, dtype, n_train=problem.n_train, validation=n_val, split_seed=SPLIT_SEED,
                   **dict(problem.options))


def without_test(data):
    """The data a tune-stage cell sees: no test set at all, so nothing tuned can have read it."""
    return replace(data, x_test=None, t_test=None)


def target(problem, dataset_name):
    return PROBLEMS[problem].target[dataset_name if PROBLEMS[problem].data == "images" else PROBLEMS[problem].data]


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


def plot(records):
    from experiments._optimizer_benchmark_report import figures

    return figures(records)


def tables(records):
    from experiments._optimizer_benchmark_report import tables as make

    return make(records)


def headline(records):
    from experiments._optimizer_benchmark_report import headline as make

    return make(records)


GRID = {"optimizer": list(OPTIMIZERS), "problem": list(PROBLEMS), "trials": [20], "budget": [1.0],
        "dtype": ["float32"]}

EXPERIMENT = bench.Experiment(
    name="optimizer_benchmark",
    description="six optimizers, each tuned (20 quasi-random trials on a validation split) on four problems, "
                "the best rerun with 5 seeds on the test set; IQM, probability of improvement, performance profiles",
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
            "trials": Int("tuning trials per optimizer and problem (more trials keep the first ones)", 1, 1000),
            "budget": Float("fraction of each problem's step budget (1: the benchmark's)", 0, 1, low_open=True),
            "dtype": P.DTYPE},
    source="DeepOBS (Schneider et al. 2019); Schmidt, Schneider & Hennig 2021; Agarwal et al. 2021; "
           "Dolan & Moré 2002",
    datasets=("mnist", "fashion_mnist"),
    seeds=5,
    quick={"trials": [4], "budget": [0.15], "seeds": 2},
    metrics={"test_acc": "max", "val_acc": "max"},
    summary_metrics=("val_acc", "test_acc", "train_seconds"),
)


def n_classes(problem):
    """Classes of a problem's data (for the chance level of its normalised score)."""
    return 2 if PROBLEMS[problem].data == "moons" else 10

