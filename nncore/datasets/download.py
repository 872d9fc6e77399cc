"""Download a file from the first mirror that serves it intact: progress bar, pinned hash, atomic write."""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path

from nncore.atomic import ordinary_permissions
from nncore.datasets.errors import DatasetError

CHUNK = 1 << 16


def file_digest(path, algorithm="sha256"):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_one(url, tmp, algorithm, timeout):
    """Stream `url` into the open file `tmp`; return its hex digest. Raises OSError/HTTPException."""
    from tqdm.auto import tqdm  # a download's progress bar: not imported by every process that loads data

    h = hashlib.new(algorithm)
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.length
        name = url.rsplit("/", 1)[-1]
        got = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False) as bar:
            while block := response.read(CHUNK):
                tmp.write(block)
                h.update(block)
                got += len(block)
                bar.update(len(block))
        if total is not None and got != total:
            raise HTTPException(f"connection closed after {got} of {total} bytes")
    return h.hexdigest()


def download(name, mirrors, dest_dir, digest, algorithm="sha256", timeout=30):
    """Fetch `name` from the first of `mirrors` (base URLs) that serves it with the pinned digest
    into dest_dir; the file appears under its name only complete and verified. Returns its path.
    A mirror silent for `timeout` seconds (30 by default) counts as failed and the next is tried."""
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create {dest_dir} ({e.strerror}); set NNBENCH_DATA to a writable folder") \
            from None
    problems = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        fd, tmp_path = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as tmp:
                got = _fetch_one(url, tmp, algorithm, timeout)
                tmp.flush()
                os.fsync(tmp.fileno())
            if got != digest:
                problems.append(f"{url}: {algorithm} mismatch (got {got[:12]}..., expected {digest[:12]}...)")
                continue
            ordinary_permissions(tmp_path)
            os.replace(tmp_path, dest_dir / name)
            return dest_dir / name
        except (OSError, HTTPException, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            problems.append(f"{url}: {reason}")
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
    raise DatasetError(f"could not download {name}: " + "; ".join(problems))
