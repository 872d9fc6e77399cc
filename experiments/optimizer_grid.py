"""Optimizers as a grid parameter: a built-in name, a plugin's, or module:attr; an outside optimizer's
keyword arguments become parameters of the grid, set only for the optimizers that take them."""

from bench import plugins
from bench.errors import UserError
from bench.experiment import cartesian
from bench.params import Param
from nncore.optimizers import OPTIMIZERS

LABELS = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
          "rmsprop": "RMSprop", "adam": "Adam"}  # the figures' names of the built-in optimizers
OPTIMIZER = Param("str", "optimizer: " + ", ".join(OPTIMIZERS) + ", a plugin's name, or module:attr")


def make_optimizer(point):
    """The cell's optimizer: its lr (null: the optimizer's own) and whichever of its arguments are set."""
    spec = plugins.optimizer(point["optimizer"])
    return plugins.make(spec, lr=point.get("lr"), **{k: point.get(k) for k in spec.kwargs if k != "lr"})


def optimizer_args(grid):
    """Every keyword argument (but lr) of the optimizers in the grid, as a parameter."""
    extra = {}
    for name in grid["optimizer"]:
        for arg, default in plugins.optimizer(name).kwargs.items():
            if arg != "lr" and arg not in grid:
                extra.setdefault(arg, plugins.param_for(arg, default))
    return extra


def points_over(declared):
    """points(grid, seed) for an experiment whose own parameters are `declared`: the cartesian
    product of those; an optimizer argument multiplies only the cells of the optimizers that take it,
    and appears in a cell only when it is set."""

    def points(grid, seed):
        base = {k: v for k, v in grid.items() if k in declared}
        extra = {k: v for k, v in grid.items() if k not in declared}
        out = []
        for point in cartesian(base):
            own = {k: v for k, v in extra.items() if k in plugins.optimizer(point["optimizer"]).kwargs}
            for args in cartesian(own):
                out.append({**point, **{k: v for k, v in args.items() if v is not None}})
        return out

    return points


def identity(params):
    spec = plugins.optimizer(params["optimizer"])
    return {} if spec.builtin else {"optimizer_sha256": spec.digest}


def check(grid):
    """Every optimizer resolves, and takes the arguments the grid gives it (made once with each)."""
    for point in cartesian(grid):  # make_optimizer passes each optimizer only the arguments it takes
        try:
            make_optimizer(point)
        except ValueError as e:
            raise UserError(f"bad optimizer setting: {e}") from None
