"""Cells on a Dask cluster, through joblib's dask backend: the runner stays the same.

Workers compute and return records; the driver alone writes files, so workers need no shared disk.
Each worker loads datasets itself, from its own cache, $NNBENCH_DATA or system folders, downloading
and verifying them if missing: no task carries a training set.

Faults end in one line: an address is checked before anything connects; the scheduler must answer
within `timeout` seconds (a port that accepts and never answers would otherwise hang the client);
distributed's own log messages stay out of the console unless `logs` is asked for.
"""

import asyncio
import contextlib
import logging
import os

from bench.errors import UserError

CONNECT_TIMEOUT = 10  # seconds for the scheduler to answer before giving up
HOST_PORT = ("tcp", "tls", "ws", "wss", "ucx")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UserError('--backend dask needs Dask: pip install -e ".[dask]"') from None
    return distributed


def check_address(address):
    """The scheduler's address, or a UserError saying what is wrong with it: every protocol
    distributed speaks (tcp, tls, ws, wss, ucx, inproc), HOST:PORT with a port in 1-65535."""
    _distributed()
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    usage = f"write PROTOCOL://HOST:PORT, e.g. tcp://10.0.0.5:8786 (protocols: {', '.join(sorted(backends))})"
    try:
        scheme, location = parse_address(address, strict=True)
    except ValueError:
        raise UserError(f"bad --scheduler {address!r}: no protocol; {usage}") from None
    if scheme not in backends:
        raise UserError(f"bad --scheduler {address!r}: unknown protocol {scheme!r}; {usage}")
    if scheme in HOST_PORT:
        try:
            host, port = parse_host_port(location)
        except ValueError:
            raise UserError(f"bad --scheduler {address!r}: no port; {usage}") from None
        if not host or not 1 <= int(port) <= 65535:
            raise UserError(f"bad --scheduler {address!r}: {'no host' if not host else f'port {port}'}; {usage}")
    return address


def security_for(address):
    """Dask's own TLS configuration (distributed.comm.tls.*) for a tls:// or wss:// scheduler."""
    from distributed import Security

    if not address.startswith(("tls://", "wss://")):
        return None
    security = Security()
    if not security.tls_client_cert and not security.tls_ca_file:
        raise UserError(f"--scheduler {address} uses TLS, but Dask's configuration names no certificates: set "
                        "distributed.comm.tls.ca-file and .client.cert/.key (e.g. in ~/.config/dask/)")
    return security


def _probe(address, security, timeout):
    """Ask the scheduler who it is, with a deadline covering connect and answer."""
    from distributed.core import rpc

    async def identity():
        kwargs = {"connection_args": security.get_connection_args("client")} if security else {}
        remote = rpc(address, timeout=timeout, **kwargs)
        try:
            return await remote.identity()
        finally:
            await remote.close_rpc()

    try:
        info = asyncio.run(asyncio.wait_for(identity(), timeout))
    except (OSError, TimeoutError, asyncio.TimeoutError) as e:
        raise UserError(f"no Dask scheduler answered at {address} within {timeout:g} s ({type(e).__name__}); is "
                        "`dask scheduler` running there? (--connect-timeout sets the wait)") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise UserError(f"{address} answered, but it is not a Dask scheduler")


def quiet_logs(logs):
    """distributed logs to the console through handlers of its own; nnbench reports faults in its own
    lines instead, so unless `logs` is asked for those handlers are replaced by ones that drop everything."""
    if logs:
        return
    loggers = [logging.getLogger(name) for name in logging.root.manager.loggerDict
               if name.split(".")[0] in ("distributed", "tornado", "bokeh")]
    for logger in loggers:  # distributed gives several of its loggers a console handler of their own
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False


@contextlib.contextmanager
def dask_cluster(scheduler=None, timeout=CONNECT_TIMEOUT, logs=False):
    """A connected distributed Client (to `scheduler`, or to a LocalCluster sized to this machine)
    and the joblib parallel_config that sends work to it."""
    distributed = _distributed()
    quiet_logs(logs)
    cluster = None
    if scheduler:
        check_address(scheduler)
        security = security_for(scheduler)
        _probe(scheduler, security, timeout)
        try:
            client = distributed.Client(scheduler, timeout=f"{timeout}s", security=security)
        except (OSError, TimeoutError) as e:
            raise UserError(f"cannot connect to the Dask scheduler at {scheduler} ({type(e).__name__}: {e})") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            client.close()
            raise UserError(f"the Dask scheduler at {scheduler} has no workers after {timeout:g} s: start some with "
                            f"`dask worker {scheduler} --nthreads 1`") from None
    else:
        # No dashboard; the scheduler's HTTP server still starts, on a free local port rather than 8787,
        # which another run or a notebook's dashboard may hold.
        cluster = distributed.LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                           dashboard_address=None,
                                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                           silence_logs=logging.INFO if logs else logging.CRITICAL + 1)
        client = distributed.Client(cluster)
    try:
        yield client, {"backend": "dask"}
    finally:
        with contextlib.suppress(Exception):  # a scheduler already gone cannot be said goodbye to
            client.close(timeout=5)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=5)
