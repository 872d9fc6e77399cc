"""nncore.atomic: files written whole, fsynced unless verified, with ordinary permissions."""

import os

import pytest

from nncore.atomic import atomic_path


@pytest.mark.parametrize("durable, fsyncs", [(True, 1), (False, 0)])
def test_atomic_files_are_fsynced_unless_their_reader_verifies_them(tmp_path, monkeypatch, durable, fsyncs):
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    with atomic_path(tmp_path / "f", durable=durable) as tmp:
        tmp.write_text("x")
    assert len(calls) == fsyncs and (tmp_path / "f").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_atomic_files_get_the_permissions_open_would_give(tmp_path):
    """mkstemp makes files private to their owner; results and caches are meant to be readable like any other."""
    with atomic_path(tmp_path / "f") as tmp:
        tmp.write_text("x")
    (tmp_path / "g").write_text("x")
    assert (tmp_path / "f").stat().st_mode & 0o777 == (tmp_path / "g").stat().st_mode & 0o777
