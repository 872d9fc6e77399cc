"""The harness's files, each written whole or not at all (nncore.atomic.atomic_path)."""

from pathlib import Path

from nncore.atomic import atomic_path

__all__ = ["atomic_path", "write_figure", "write_joblib", "write_parquet", "write_text"]


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_parquet(path, df):
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_figure(path, fig, **kwargs):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix[1:], **kwargs)


def write_joblib(path, obj):
    import joblib

    with atomic_path(path) as tmp:
        joblib.dump(obj, tmp)
