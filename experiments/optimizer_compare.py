"""SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam on one network (the book, ch. 6), and any
optimizer from outside (`--set optimizer=mypkg.opt:Lion`, or a name a plugin registers): its keyword
arguments become parameters of the grid (`--set beta1=0.95`), set only for the optimizers that take them."""

import bench
import bench.params as P
from bench.params import Float
from bench.records import ACCURACY, LOSS
from experiments.common import dataset, plot_loss_curves, plot_metric, train
from experiments.optimizer_grid import LABELS, OPTIMIZER, check, identity, make_optimizer, optimizer_args, points_over
from nncore import MLP
from nncore.optimizers import OPTIMIZERS


def run(params, rng):
    data = dataset(params["dataset"], params["dtype"])
    sizes = [data.x_train.shape[1], *params["hidden"], data.n_classes]
    net = MLP(sizes, rng, activation="relu", init="he", dtype=params["dtype"])
    opt = make_optimizer(params)
    rec = bench.Recorder()
    rec.use("lr", opt.lr)

    def evaluate(step):
        rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step, epoch=step * params["batch"] / len(
            data.x_train))

    train(net, opt, data, rec, params["iterations"], params["batch"], rng, params["eval_every"], evaluate)
    return rec


def plot(records):
    from bench.plotting import figure

    fig, axes = figure(1, 2, width=11, height=4.2)
    plot_loss_curves(axes[0, 0], records, "optimizer", LABELS)
    axes[0, 0].set_title("training loss (11-point Kaiser smoothing)")
    axes[0, 0].get_legend().remove()  # one legend: both panels use the same colours
    plot_metric(axes[0, 1], records, "test_acc", "optimizer", LABELS)
    axes[0, 1].set_xlabel("iterations")
    axes[0, 1].set_ylabel("test accuracy")
    axes[0, 1].set_title("test accuracy")
    axes[0, 1].legend()
    return {"optimizer_compare": fig}


GRID = {"optimizer": list(OPTIMIZERS), "lr": [None], "hidden": [[100, 100, 100, 100]], "batch": [128],
        "iterations": [2000], "eval_every": [100], "dtype": ["float64"]}

EXPERIMENT = bench.Experiment(
    name="optimizer_compare",
    description="SGD/Momentum/Nesterov/AdaGrad/RMSprop/Adam on 784-100x4-10 ReLU, batch 128, 2000 iterations",
    run=run,
    plot=plot,
    shows=("optimizer",),
    grid=GRID,
    points=points_over(GRID),
    extra_params=optimizer_args,
    identity=identity,
    check=check,
    params={"optimizer": OPTIMIZER,
            "lr": Float("learning rate (null: the optimizer's default, the book's)", 0, low_open=True, nullable=True),
            "hidden": P.WIDTHS, "batch": P.BATCH, "iterations": P.ITERATIONS, "eval_every": P.EVAL_EVERY,
            "dtype": P.DTYPE},
    accepts=("images", "vectors", "points"),
    source="Saitoh, Deep Learning from Scratch (O'Reilly Japan, 2016), ch. 6",
    datasets=("mnist", "fashion_mnist", "digits"),
    seeds=3,
    version=2,  # 2: Nesterov moves with the velocity before the step (it used the updated one)
    quick={"iterations": [150], "eval_every": [50], "hidden": [[50, 50]], "seeds": 2},
    metrics={"loss": LOSS, "test_acc": ACCURACY},
)
