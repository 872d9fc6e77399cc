"""bench.runner: the worker pool's size and how cells are executed."""

from bench.grid import expand, resolve_grid
from bench.runner import execute, pool_size
from tests.toy_experiment import EXPERIMENT as TOY


def test_pool_size_gives_a_short_grid_one_worker_per_cell():
    # Under two rounds: every cell at once, sharing the cores; otherwise one worker per core.
    assert pool_size(3, 2) == 3 and pool_size(7, 4) == 7
    assert [pool_size(n, 2) for n in (0, 1, 2, 4, 5, 32)] == [1, 1, 2, 2, 2, 2]  # one cell: no pool


def test_execute_calls_while_waiting_once_and_delivers_every_cell():
    cells = expand(TOY, *resolve_grid(TOY, {"steps": [3]}, None, False, 1))
    calls, done = [], []
    execute(TOY, cells, lambda r: done.append((r.cell.cell_id, r.status["status"])), jobs=2,
            while_waiting=lambda: calls.append(len(done)))
    assert calls == [0]  # before any result was handed over
    assert sorted(done) == sorted((c.cell_id, "ok") for c in cells)
