"""Cells on a Dask cluster, through joblib's dask backend: the runner stays the same.

Workers compute and return records; the driver alone writes files, so workers need no shared disk.
Each worker loads datasets itself, from its own cache, $NNBENCH_DATA or system folders, downloading
and verifying them if missing: no task carries a training set.
"""

import contextlib
import logging
import os

from bench.errors import UserError

CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up


@contextlib.contextmanager
def dask_cluster(scheduler=None, timeout=CONNECT_TIMEOUT):
    """A connected distributed Client (to `scheduler`, or to a LocalCluster sized to this machine)
    and the joblib parallel_config that sends work to it."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UserError('--backend dask needs Dask: pip install -e ".[dask]"') from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=f"{timeout}s")
        else:
            cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise UserError(f"cannot reach the Dask scheduler at {scheduler} within {timeout} s ({type(e).__name__}); "
                        "is `dask scheduler` running there?") from None
    try:
        yield client, {"backend": "dask"}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
