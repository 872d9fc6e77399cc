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
