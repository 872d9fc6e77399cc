"""Files that appear whole or not at all: write to a temporary name beside, fsync, rename."""

import contextlib
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


def ordinary_permissions(path):
    """The permissions a plain open() would have given (mkstemp's files are private to the user)."""
    os.chmod(path, 0o666 & ~_UMASK)


@contextlib.contextmanager
def atomic_path(path, durable=True):
    """Yield a temporary path in the same folder; on success it is fsynced and renamed to `path`.

    The rename alone makes the file whole or absent to any reader, whenever the writer is killed;
    the fsync (~1 ms) also keeps it whole through a crash of the machine. durable=False leaves it out,
    for files their reader verifies anyway (a run's cells carry a checksum)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    ordinary_permissions(tmp)
    try:
        yield Path(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
