"""The harness's files, each written whole or not at all (nncore.atomic.atomic_path)."""

from pathlib import Path

from nncore.atomic import atomic_path

__all__ = ["atomic_path", "write_figure", "write_joblib", "write_parquet", "write_text"]


def write_text(path, text, durable=True):
    with atomic_path(path, durable) as tmp:
        tmp.write_text(text)


def write_parquet(path, table, durable=True):
    """A DataFrame, or an Arrow table (written without a round trip through pandas)."""
    with atomic_path(path, durable) as tmp:
        if hasattr(table, "to_parquet"):
            table.to_parquet(tmp, index=False)
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)


def write_figure(path, fig, **kwargs):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix[1:], **kwargs)


def write_joblib(path, obj):
    import joblib

    with atomic_path(path) as tmp:
        joblib.dump(obj, tmp)
