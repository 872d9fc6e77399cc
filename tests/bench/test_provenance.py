"""What a manifest records about where a run was made, checked against git, importlib and threadpoolctl
asked directly."""

import platform
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

from bench import provenance

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A one-commit git repository holding a stand-in for bench/provenance.py."""
    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    code = repo / "bench" / "provenance.py"
    code.write_text("# code\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    monkeypatch.setattr(provenance, "__file__", str(code))
    return repo


@needs_git
def test_code_version_is_the_commit_and_says_dirty_only_for_changed_tracked_files(checkout):
    commit = _git(checkout, "rev-parse", "HEAD")
    assert len(commit) == 40
    assert provenance.code_version() == commit
    (checkout / "bench" / "notes.txt").write_text("untracked")
    assert provenance.code_version() == commit
    (checkout / "bench" / "provenance.py").write_text("# changed\n")
    assert provenance.code_version() == commit + "-dirty"


@needs_git
def test_code_version_outside_a_checkout_is_none(tmp_path, monkeypatch):
    (tmp_path / "bench").mkdir()
    monkeypatch.setattr(provenance, "__file__", str(tmp_path / "bench" / "provenance.py"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert provenance.code_version() is None


def test_code_version_without_git_is_none(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert provenance.code_version() is None


@pytest.mark.parametrize("hangs", ["rev-parse", "status"])
def test_code_version_gives_up_on_a_git_that_hangs(hangs, tmp_path, monkeypatch):
    fake = tmp_path / "git"
    sleep = shutil.which("sleep")
    fake.write_text(f'#!/bin/sh\ncase "$*" in *{hangs}*) exec {sleep} 60;; *rev-parse*) echo 0123abcd;; esac\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(provenance, "GIT_TIMEOUT", 0.5)
    assert provenance.code_version() is None


def test_nnbench_version_is_the_installed_one_or_unknown(monkeypatch):
    assert provenance.nnbench_version() == metadata.version("nnbench")

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert provenance.nnbench_version() == "unknown"


def test_package_versions_name_python_and_every_package_and_none_for_a_missing_one(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ["numpy", "no-such-package-nnbench"])
    assert provenance.package_versions() == {"python": platform.python_version(),
                                             "numpy": metadata.version("numpy"),
                                             "no-such-package-nnbench": None}
    assert platform.python_version() == "{}.{}.{}".format(*sys.version_info[:3])


def test_machine_names_the_platform_cores_and_blas_libraries():
    import numpy  # noqa: F401  (loads the BLAS threadpoolctl reports)
    from threadpoolctl import threadpool_info

    found = provenance.machine()
    assert set(found) == {"platform", "processor", "cpu_count", "blas"}
    assert found["platform"] == platform.platform()
    assert found["processor"] == (platform.processor() or platform.machine()) != ""
    assert found["cpu_count"] >= 1
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert len(found["blas"]) == len(blas) >= 1
    for mine, theirs in zip(found["blas"], blas):
        assert mine == {"internal_api": theirs["internal_api"], "version": theirs["version"],
                        "num_threads": theirs["num_threads"], "architecture": theirs.get("architecture")}


def test_machine_says_the_architecture_when_the_processor_is_unnamed(monkeypatch):
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert provenance.machine()["processor"] == platform.machine()
