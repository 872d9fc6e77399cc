"""How wide should the hidden layer be? (a) moons: 2-H-2 tanh decision boundaries, after the moons
tutorial, with a logistic-regression baseline (H=0); (b) MNIST: 784-H-10, accuracy and size vs H."""

import numpy as np

import bench
import bench.params as P
from bench.params import Float, Int
from bench.plotting import figure, mean_ci, spread, spread_label
from bench.records import ACCURACY, DIVERGED_AT, LOSS, Metric
from experiments.common import dataset, train
from nncore import MLP, make_optimizer

MESH = 60  # points per side of the decision-boundary mesh


def mesh_points(x):
    """The tutorial's plotting mesh: the data's bounding box plus 0.5, MESH x MESH points."""
    (x0, y0), (x1, y1) = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    xx, yy = np.meshgrid(np.linspace(x0, x1, MESH), np.linspace(y0, y1, MESH))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def softmax_p1(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e[:, 1] / e.sum(axis=1)


def run_moons(params, rng, rec):
    data = dataset("moons", n=params["samples"], noise=params["noise"], seed=0)
    rec.use("batch", len(data.x_train))  # batch null: every step uses the whole training set
    _, _, mesh = mesh_points(data.x_train)
    if params["hidden"] == 0:
        import warnings

        from sklearn.linear_model import LogisticRegressionCV

        with warnings.catch_warnings():  # scikit-learn announces changes of defaults we do not rely on
            warnings.simplefilter("ignore", FutureWarning)
            model = LogisticRegressionCV().fit(data.x_train, data.t_train)
        rec.log("train_acc", model.score(data.x_train, data.t_train), 0)
        rec.log("test_acc", model.score(data.x_test, data.t_test), 0)
        p1 = model.predict_proba(mesh)[:, 1]
    else:
        n = len(data.x_train)
        # The tutorial sums the gradient over the batch and adds reg * W: the same step as our
        # mean loss with lr * n and weight decay reg / n. Its printed loss equals ours.
        net = MLP([2, params["hidden"], 2], rng, activation="tanh", init="xavier", weight_decay=params["reg"] / n)
        opt = make_optimizer("sgd", lr=params["lr"] * n)
        for step in range(params["steps"]):
            loss, grads = net.gradient(data.x_train, data.t_train)
            if step % 1000 == 0 or step == params["steps"] - 1:
                rec.log("loss", loss, step)
            opt.update(net.params, grads)
        rec.log("train_acc", net.accuracy(data.x_train, data.t_train), params["steps"])
        rec.log("test_acc", net.accuracy(data.x_test, data.t_test), params["steps"])
        p1 = softmax_p1(net.predict(mesh))
    for i, p in enumerate(p1):
        rec.log("mesh_p1", p, i)


def run_images(params, rng, rec):
    data = dataset(params["dataset"])
    hidden = [params["hidden"]] if params["hidden"] else []  # 0: no hidden layer, softmax regression
    net = MLP([data.x_train.shape[1], *hidden, data.n_classes], rng, activation="relu", init="he")
    opt = make_optimizer("sgd", lr=params["lr"])
    train(net, opt, data, rec, params["steps"], params["batch"], rng, evaluate=lambda step: (
        rec.log("train_acc", net.accuracy(data.x_train, data.t_train), step),
        rec.log("test_acc", net.accuracy(data.x_test, data.t_test), step)))
    rec.log("n_params", net.n_params, params["steps"])


def run(params, rng):
    rec = bench.Recorder()
    (run_moons if params["dataset"] == "moons" else run_images)(params, rng, rec)
    return rec


def plot(records):
    if records["dataset"].iloc[0] == "moons":
        return {"hidden_size_boundaries": plot_boundaries(records), "hidden_size_accuracy": plot_accuracy(records)}
    return {"hidden_size_accuracy": plot_accuracy(records)}


def plot_boundaries(records):
    from sklearn.datasets import make_moons

    first = records.iloc[0]
    x, t = make_moons(int(first["samples"]), noise=float(first["noise"]), random_state=0)
    xx, yy, _ = mesh_points(x)
    sizes = sorted(records["hidden"].unique())
    cols = 4
    rows = int(np.ceil(len(sizes) / cols))
    fig, axes = figure(rows, cols, width=3.3 * cols, height=2.9 * rows)
    mesh = records[records["metric"] == "mesh_p1"].groupby(["hidden", "step"])["value"].mean()
    final = records[records["metric"].isin(["train_acc", "test_acc"])].groupby(["hidden", "metric"])["value"].mean()
    for ax, h in zip(axes.flat, sizes):
        p1 = mesh.loc[h].reindex(range(MESH * MESH)).to_numpy().reshape(MESH, MESH)
        ax.contourf(xx, yy, p1, levels=[0, 0.5, 1], colors=["#9ecae1", "#fdae6b"], alpha=0.7)
        ax.contour(xx, yy, p1, levels=[0.5], colors="k", linewidths=0.8)
        ax.scatter(x[:, 0], x[:, 1], c=np.where(t == 1, "#e6550d", "#3182bd"), s=8, edgecolors="none")
        name = "logistic regression" if h == 0 else f"hidden layer size {h}"
        ax.set_title(f"{name}\ntrain {final.loc[(h, 'train_acc')]:.3f} · test {final.loc[(h, 'test_acc')]:.3f}")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    for ax in axes.flat[len(sizes):]:
        ax.set_visible(False)
    fig.suptitle("decision boundaries (probability averaged over seeds; accuracy = mean)")
    return fig


def plot_accuracy(records):
    from bench.tables import final_values  # pandas: imported when drawing, not in workers

    fig, axes = figure(1, 1, width=6.4, height=4.0)
    ax = axes[0, 0]
    last = final_values(records[records["metric"].isin(["train_acc", "test_acc", DIVERGED_AT])])
    for metric, style in (("train_acc", "--"), ("test_acc", "-")):
        stats = mean_ci(last, metric, [], x="hidden", bounds=ACCURACY.bounds).sort_values("hidden")
        stats = stats[stats["hidden"] > 0]  # H = 0 (no hidden layer) is the baseline line below
        spread(ax, stats, "hidden", label=metric.replace("_acc", ""), linestyle=style, color="C0", marker="o")
    baseline = last[(last["hidden"] == 0) & (last["metric"] == "test_acc")]["value"]
    if len(baseline):
        name = "logistic" if records["dataset"].iloc[0] == "moons" else "softmax"
        ax.axhline(baseline.mean(), color="gray", linestyle=":", label=f"{name} regression, H=0 (test)")
    ax.set_xscale("log")
    ax.set_xlabel("hidden units H")
    ax.set_ylabel(f"final accuracy ({spread_label(records['seed'].nunique())})")
    params = records[records["metric"] == "n_params"]
    if len(params):
        twin = ax.twinx()
        counts = params.groupby("hidden")["value"].first()
        twin.plot(counts.index, counts.values, "s:", color="C3", markersize=3, label="parameters")
        twin.set_ylabel("parameters", color="C3")
        twin.set_yscale("log")
        twin.grid(False)
    ax.legend(loc="lower right")
    return fig


EXPERIMENT = bench.Experiment(
    name="hidden_size_sweep",
    description="hidden width H: moons 2-H-2 tanh boundaries (H=0: logistic regression); MNIST 784-H-10",
    run=run,
    plot=plot,
    shows=("hidden",),
    grid={"hidden": [0, 1, 2, 3, 4, 5, 20, 50], "lr": [0.01], "reg": [0.01], "steps": [20000], "batch": [None],
          "samples": [200], "noise": [0.2]},
    dataset_grids={name: {"hidden": [10, 25, 50, 100, 200, 400], "lr": [0.1], "reg": [0.0], "steps": [3000],
                          "batch": [100], "samples": [None], "noise": [None]}
                   for name in ("mnist", "fashion_mnist", "digits", "images", "vectors", "points")},
    params={"hidden": Int("hidden layer width H (0: no hidden layer, logistic/softmax regression)", 0, P.MAX_WIDTH),
            "lr": P.LR, "reg": Float("L2 weight decay", 0), "steps": P.STEPS,
            "batch": Int("mini-batch size (null: the whole training set)", 1, 1_000_000, nullable=True),
            "samples": Int("moons samples (null on images)", 4, 10_000_000, nullable=True),
            "noise": Float("moons noise std (null on images)", 0, 10, nullable=True)},
    accepts=("images", "vectors", "points"),
    source="Britz, Implementing a Neural Network from Scratch in Python (WildML, 2015)",
    datasets=("moons", "mnist", "fashion_mnist", "digits"),
    seeds=3,
    version=2,  # 2: the moons sample count is `samples` (it was `n`, which the summary's count overwrote)
    quick={"steps": [3000], "hidden": [0, 1, 3, 20], "seeds": 2},
    metrics={"loss": LOSS, "train_acc": ACCURACY, "test_acc": ACCURACY, "n_params": Metric(low=0.0)},
    summary_metrics=("loss", "train_acc", "test_acc", "n_params"),
)
