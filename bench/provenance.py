"""What a manifest records about where and with what a run was made."""

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ["nnbench", "numpy", "scipy", "pandas", "pyarrow", "joblib", "threadpoolctl", "scikit-learn",
            "matplotlib", "tqdm"]


GIT_TIMEOUT = 5  # seconds: a git that hangs (a stale network mount, a prompt) gives no version, not a hung run


def code_version():
    """The git commit of the checkout holding this code (with '-dirty' for local changes), if any."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=GIT_TIMEOUT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, timeout=GIT_TIMEOUT).stdout.strip()  # any output: dirty
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def nnbench_version():
    try:
        return metadata.version("nnbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def package_versions():
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine():
    from threadpoolctl import threadpool_info

    blas = [{k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "blas": blas}
