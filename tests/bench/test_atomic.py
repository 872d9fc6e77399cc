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
