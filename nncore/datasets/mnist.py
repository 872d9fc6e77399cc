"""MNIST and Fashion-MNIST: four IDX files found locally or downloaded and verified."""

import os
from dataclasses import dataclass
from pathlib import Path

from nncore.datasets import prepared
from nncore.datasets.download import download
from nncore.datasets.errors import DatasetError
from nncore.datasets.idx import content_digest, read_idx

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class IdxDataset:
    name: str
    mirrors: tuple
    digests: tuple          # pinned digests of FILES as downloaded, in order
    contents: tuple         # published SHA-256 of FILES uncompressed, in order: what makes the data set
    algorithm: str = "sha256"
    system_dirs: tuple = ()  # folders a system package installs the files into


MNIST = IdxDataset(
    "mnist",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    digests=("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    contents=("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
              "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
              "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
              "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
)

# Zalando publishes MD5 sums of its .gz files. Debian's package recompresses them, so files found on disk
# are checked by the SHA-256 of their uncompressed content, which every faithful copy shares.
FASHION_MNIST = IdxDataset(
    "fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
    digests=("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
    contents=("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
              "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
              "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
              "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    algorithm="md5",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)


# The environment that decides where image sets are found and cached.
DATA_ENV = ("NNBENCH_DATA", "XDG_CACHE_HOME")


def cache_dir(name):
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnbench" / name


def search_dirs(spec, data_dir=None):
    """Where the files are looked for, in order: the explicit folder or $NNBENCH_DATA (and its
    subfolder named after the dataset), the user cache, then system folders."""
    explicit = data_dir or os.environ.get("NNBENCH_DATA")
    dirs = [Path(explicit), Path(explicit) / spec.name] if explicit else []
    return [*dirs, cache_dir(spec.name), *(Path(d) for d in spec.system_dirs)]


def _find(folder, name):
    """The file in `folder`, compressed or not, or None."""
    for candidate in (folder / name, folder / name[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def locate(spec, data_dir=None, allow_download=True):
    """Paths of the four files: the first folder holding all of them, else a download into the cache."""
    dirs = search_dirs(spec, data_dir)
    for folder in dirs:
        paths = [_find(folder, f) for f in FILES]
        if all(paths):
            return paths
    target = cache_dir(spec.name)
    if allow_download:
        try:
            return [_find(target, f) or download(f, spec.mirrors, target, d, spec.algorithm)
                    for f, d in zip(FILES, spec.digests)]
        except DatasetError as e:
            reason = f" (download failed: {e})"
    else:
        reason = ""
    alternatives = "--dataset fashion_mnist (apt-get install dataset-fashion-mnist) or --dataset digits"
    raise DatasetError(
        f"{spec.name} not found{reason}: place {', '.join(FILES)} in {target} or in a folder named by "
        f"NNBENCH_DATA (looked in {', '.join(str(d) for d in dirs)}); offline alternatives: {alternatives}")


CLASSES = 10  # MNIST and Fashion-MNIST both label 0-9


def read_all(paths):
    """(x_train, t_train, x_test, t_test) as uint8 arrays, images (N, 28, 28), validated: the IDX
    structure, labels 0-9, and images that are not all one value."""
    x_train = read_idx(paths[0], expect_ndim=3)
    t_train = read_idx(paths[1], expect_ndim=1, expect_count=x_train.shape[0])
    x_test = read_idx(paths[2], expect_ndim=3)
    t_test = read_idx(paths[3], expect_ndim=1, expect_count=x_test.shape[0])
    for x, t, x_path, t_path in ((x_train, t_train, paths[0], paths[1]), (x_test, t_test, paths[2], paths[3])):
        if len(t) == 0:
            raise DatasetError(f"{t_path}: holds no samples; is it the right file?")
        if t.min() < 0 or t.max() >= CLASSES:
            raise DatasetError(f"{t_path}: labels run from {t.min()} to {t.max()}, but these data sets have classes "
                               f"0-{CLASSES - 1}; is it the right file? (your own data: --dataset npz:PATH)")
        if x.min() == x.max():
            raise DatasetError(f"{x_path}: every pixel of every image is {x.min()}: the images are blank; delete the "
                               "file and fetch it again")
    return x_train, t_train, x_test, t_test


def check_official(spec, paths):
    """Refuse files that are not the official ones: results labelled with a data set's name are that
    data set. Compared uncompressed, so any faithful copy passes however it was compressed."""
    for path, name, published in zip(paths, FILES, spec.contents):
        found = content_digest(path)
        if found != published:
            raise DatasetError(
                f"{path}: is not the official {spec.name} {name.removesuffix('.gz')} (SHA-256 of its content "
                f"{found[:12]}..., published {published[:12]}...); delete it to fetch the real one, or run your "
                f"own images in this format with --dataset idx:{Path(path).parent}")


def load(spec, dtype, scale, data_dir=None, allow_download=True, verify=False):
    """(x_train, t_train, x_test, t_test): images (N, 28, 28) as read-only float `dtype` divided by
    `scale` (when given), labels int64; read, validated and checked against the official files once,
    then memory-mapped from the cache (prepared.py, which checks its digests when `verify`)."""
    paths = tuple(str(p) for p in locate(spec, data_dir, allow_download))

    def read():
        raw = read_all(paths)  # a damaged file gets its own message before the comparison with the official one
        check_official(spec, paths)
        return raw

    return prepared.load(cache_dir(spec.name) / "prepared", paths, dtype, scale, read, verify)
