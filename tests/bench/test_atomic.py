"""bench.atomic: a file is written whole or not at all."""

import pytest

from bench.atomic import atomic_path


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_a_figure_is_written_in_its_suffix_format_with_the_options_given(tmp_path):
    import struct

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from bench.atomic import write_figure

    fig = Figure(figsize=(2, 1))
    write_figure(tmp_path / "f.png", fig, dpi=50)
    head = (tmp_path / "f.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (100, 50)  # 2x1 in at 50 dpi
    write_figure(tmp_path / "f.svg", fig)
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:500]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "f.svg"]


def test_a_table_is_written_without_its_index_and_fsynced_unless_asked_not_to(tmp_path, monkeypatch):
    import os

    import pandas as pd

    from bench.atomic import write_parquet

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    frame = pd.DataFrame({"a": [1, 2, 3]}).iloc[[2, 0]]  # a filtered frame keeps its row labels 2, 0
    write_parquet(tmp_path / "t.parquet", frame)
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back.columns.tolist() == ["a"] and back.index.tolist() == [0, 1] and back["a"].tolist() == [3, 1]
    assert len(synced) == 1
    write_parquet(tmp_path / "u.parquet", frame, durable=False)
    assert len(synced) == 1 and pd.read_parquet(tmp_path / "u.parquet")["a"].tolist() == [3, 1]
