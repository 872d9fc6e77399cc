"""Files that appear whole or not at all: write to a temporary name beside, fsync, rename."""

import contextlib
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the same folder; on success it is fsynced and renamed to `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
