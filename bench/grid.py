"""From an experiment and the user's overrides to a list of cells, each with a stable id."""

import hashlib
import json
from dataclasses import dataclass

from bench import tuning
from bench.errors import UserError


@dataclass(frozen=True)
class Cell:
    """One run of one parameter setting with one seed."""

    experiment: str
    params: dict
    seed: int
    cell_id: str


def parse_value(text):
    """A command-line value: JSON (numbers, true/false/null, [lists]) or else a plain string."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text[0] in "[{\"":
            raise ValueError(f"malformed value {text!r}") from None
        return text


def split_values(text):
    """Split 'a,b,[1,2]' at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced brackets in {text!r}")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"unbalanced brackets in {text!r}")
    parts.append(text[start:])
    return parts


def parse_overrides(items, experiment):
    """`--set name=v1,v2` strings to {name: [values]}, each value checked against the parameter's
    declaration (bench.params) before anything runs."""
    grid = experiment.grid
    overrides, later = {}, []
    for item in items or []:
        name, sep, rest = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError(f"malformed override {item!r}: write --set NAME=VALUE[,VALUE...]; parameters: "
                            f"{', '.join(grid)}")
        if name in grid:
            overrides[name] = _checked(experiment.params[name], name, rest)
        else:
            later.append((name, rest))
    # Parameters that exist for the chosen values only (an outside optimizer's arguments) come second.
    extra = experiment.extra_params({**grid, **overrides}) if experiment.extra_params and later else {}
    for name, rest in later:
        if name not in extra:
            valid = ", ".join([*grid, *extra])
            raise UserError(f"unknown parameter {name!r} for {experiment.name}: valid parameters are {valid} "
                            f"(python -m bench show {experiment.name})")
        overrides[name] = _checked(extra[name], name, rest)
    return overrides


def values_text(values):
    """Values as `--set` takes them: text as it is, everything else as JSON, comma-separated."""
    values = values if isinstance(values, list) else [values]
    return ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)


def _checked(param, name, text):
    try:
        values = [parse_value(v) for v in split_values(text)]
    except ValueError as e:
        raise UserError(f"bad value for {name}: {e}; write --set {name}=VALUE[,VALUE...]") from None
    checked = []
    for v in values:
        v = param.check(name, v)
        if v not in checked:  # a value given twice would be one cell twice
            checked.append(v)
    return checked


def describe(cell):
    """A cell as a person reads it: its parameters (not the dataset, which a run holds fixed) and seed."""
    return describe_params(cell.params, cell.seed)


def describe_params(params, seed):
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items() if k != "dataset")
    return f"[{shown}, seed {seed}]"


def cell_id(experiment, params, seed, root_seed, data=None):
    """Hash of everything that determines a cell's result: experiment name and version, parameters
    (the dataset among them), seed and root seed, and what the experiment adds (Experiment.identity)."""
    fields = {"experiment": experiment.name, "version": experiment.version, "params": params, "seed": seed,
              "root_seed": root_seed}
    extra = {**(experiment.identity(params) if experiment.identity else {}), **(data or {})}
    if extra:  # only when there is any: the ids of every other cell stay what they were
        fields["identity"] = extra
    key = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def resolve_dataset(experiment, dataset):
    """(dataset, kind): a built-in name the experiment declares (kind None), or an outside data set
    (npz:PATH, idx:DIR, a plugin's name) of a kind it accepts, loaded and checked here, once."""
    from nncore.datasets import outside

    if dataset in experiment.datasets:
        return dataset, None
    own = ", or your own (npz:PATH, idx:DIR)" if experiment.accepts else ""
    if not (experiment.accepts and outside.is_outside(dataset)):
        raise UserError(f"{experiment.name} runs on {', '.join(experiment.datasets)}{own}, not {dataset!r}")
    dataset = outside.normalized(dataset)
    kind = outside.kind(outside.load_arrays(dataset))
    if kind not in experiment.accepts:
        raise UserError(f"{experiment.name} takes {' or '.join(experiment.accepts)} data; {dataset} holds {kind}")
    return dataset, kind


def resolve_grid(experiment, overrides=None, dataset=None, quick=False, seeds=None):
    """The final grid (quick variant and overrides applied), dataset and seed count."""
    dataset, kind = resolve_dataset(experiment, dataset or experiment.dataset)
    grid = {k: list(v) for k, v in experiment.grid.items()}
    settings = experiment.dataset_grids.get(dataset) or experiment.dataset_grids.get(kind, {})
    grid.update({k: list(v) for k, v in settings.items()})
    n_seeds = experiment.seeds
    if quick:
        for k, v in experiment.quick.items():
            if k == "seeds":
                n_seeds = v
            else:
                grid[k] = list(v)
    grid.update(overrides or {})
    if experiment.check:
        experiment.check(grid)
    if seeds is not None:
        n_seeds = seeds
    return grid, dataset, n_seeds


def _data_identity(dataset):
    from nncore.datasets import outside

    return {"data_sha256": outside.digest(dataset)} if outside.is_outside(dataset) else {}


def _cell(experiment, point, dataset, seed, root_seed, data):
    params = {**point, "dataset": dataset}
    return Cell(experiment.name, params, seed, cell_id(experiment, params, seed, root_seed, data))


def expand(experiment, grid, dataset, n_seeds, root_seed=0):
    """Cells in a stable order: parameter points as the experiment lays them out, then seeds. An
    outside data set's content (its SHA-256) is part of every cell's identity, not only its name.
    A tuned experiment's cells are its tune stage (tune_cells); the final stage follows from their results."""
    if experiment.tuning:
        return [cell for group in tune_cells(experiment, grid, dataset, root_seed) for cell in group]
    data = _data_identity(dataset)
    return [_cell(experiment, point, dataset, seed, root_seed, data)
            for point in experiment.expand(grid, root_seed) for seed in range(n_seeds)]


def tune_cells(experiment, grid, dataset, root_seed=0):
    """A tuned experiment's tune stage: for each grid point and study, one cell per trial, trained with
    the study's seed."""
    grid, n_trials, n_studies = tuning.split_trials(grid)
    points = experiment.expand(grid, root_seed)
    data = _data_identity(dataset)
    return [[_cell(experiment, trial, dataset, trial[tuning.STUDY], root_seed, data) for trial in group]
            for group in tuning.tune_groups(experiment.tuning, points, n_trials, root_seed, n_studies)]


def final_cells(experiment, groups, score, dataset, n_seeds, root_seed=0):
    """The final stage: each grid point's and study's best trial (score(cell) -> its last validation
    value, None when it failed) with the study's n_seeds seeds. Returns (cells, the tune groups with no
    finished trial)."""
    data = _data_identity(dataset)
    cells, unfinished = [], []
    for group in groups:
        point = tuning.final_params(experiment.tuning, [c.params for c in group], [score(c) for c in group])
        if point is None:
            unfinished.append(group[0])
            continue
        cells += [_cell(experiment, point, dataset, seed, root_seed, data)
                  for seed in tuning.final_seeds(point[tuning.STUDY], n_seeds)]
    return cells, unfinished
