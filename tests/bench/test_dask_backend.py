"""bench.dask_backend in process: address checks, TLS, the scheduler probe, quiet logs and the clients it yields."""

import asyncio
import contextlib
import logging
import os
import re
import socket
import sys
import threading
import time

import pytest

from bench import dask_backend
from bench.errors import UserError
from tests.bench.conftest import one_line

distributed = pytest.importorskip("distributed", reason='pip install -e ".[dask]" (CI installs it)')

PIP_HINT = '--backend dask needs Dask: pip install -e ".[dask]"'
NO_TLS = ("--scheduler {} uses TLS, but Dask's configuration names no certificates: set "
          "distributed.comm.tls.ca-file and .client.cert/.key (e.g. in ~/.config/dask/)")
NO_ANSWER = ("no Dask scheduler answered at {} within {} s ({}); is `dask scheduler` running there? "
             "(--connect-timeout sets the wait)")
QUIET = ("distributed", "tornado", "bokeh")
TLS_CONFIG = ("distributed.comm.tls.ca-file", "distributed.comm.tls.client.cert", "distributed.comm.tls.client.key")


def usage():
    from distributed.comm.registry import backends  # distributed's own list of protocols

    return f"write PROTOCOL://HOST:PORT, e.g. tcp://10.0.0.5:8786 (protocols: {', '.join(sorted(backends))})"


def dask_config(values):
    import dask

    return dask.config.set(values)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(predicate, within=30):
    """Wait for `predicate` (a scheduler forgets a client a moment after the client closes)."""
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "never came true"
        time.sleep(0.02)


@contextlib.contextmanager
def fake_server(handlers, delay=0.0):
    """A distributed Server on 127.0.0.1 with these handlers, listening only after `delay` seconds."""
    port = free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def serve():
        await asyncio.sleep(delay)
        server = distributed.core.Server(handlers)
        await server.listen(f"tcp://127.0.0.1:{port}")
        return server

    started = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        server = started.result(timeout=30)
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def only_fire_and_forget(cluster):
    return lambda: set(cluster.scheduler.clients) == {"fire-and-forget"}


@pytest.fixture(autouse=True)
def loggers_restored():
    """quiet_logs changes loggers for the whole process: each test gets them back as they were."""
    before = {name: (logger.handlers[:], logger.propagate) for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    yield
    for name, (handlers, propagate) in before.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate


@pytest.fixture
def no_tls_config():
    with dask_config(dict.fromkeys(TLS_CONFIG)):
        yield


def in_process_cluster(workers, protocol="tcp", **kwargs):
    return distributed.LocalCluster(n_workers=workers, processes=False, threads_per_worker=1, protocol=protocol,
                                    host="127.0.0.1", dashboard_address="127.0.0.1:0", **kwargs)


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and one worker on 127.0.0.1 in this process."""
    with in_process_cluster(1) as lc:
        yield lc


@pytest.fixture(scope="module")
def idle_cluster():
    """A scheduler without workers."""
    with in_process_cluster(0) as lc:
        yield lc


@pytest.fixture(scope="module")
def tls_cluster():
    """A scheduler and one worker that speak TLS only, with throwaway certificates."""
    security = distributed.Security.temporary()
    with in_process_cluster(1, protocol="tls", security=security) as lc:
        yield lc, security


# -- without distributed -------------------------------------------------------------------------------------------

def test_distributed_is_the_module_when_it_is_installed():
    assert dask_backend._distributed() is distributed


def test_without_distributed_every_entry_point_gives_the_pip_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with one_line(PIP_HINT):
        dask_backend._distributed()
    with one_line(PIP_HINT):
        dask_backend.check_address("tcp://127.0.0.1:8786")
    with one_line(PIP_HINT), dask_backend.dask_cluster("tcp://127.0.0.1:8786"):
        pass


# -- check_address ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address, problem", [
    ("localhost:8786", "no protocol"),
    ("tcpp://localhost:8786", "unknown protocol 'tcpp'"),
    ("TCP://localhost:8786", "unknown protocol 'TCP'"),
    ("tcp://localhost", "no port"), ("tls://localhost", "no port"), ("ws://localhost", "no port"),
    ("wss://localhost", "no port"), ("ucx://localhost", "no port"), ("tcp://localhost:", "no port"),
    ("tcp://:8786", "no host"), ("tcp://:0", "no host"),
    ("tcp://localhost:0", "port 0"), ("tcp://localhost:65536", "port 65536"), ("tcp://localhost:99999", "port 99999"),
])
def test_a_malformed_address_is_one_line_naming_the_problem_and_the_usage(address, problem):
    with one_line(f"bad --scheduler {address!r}: {problem}; {usage()}"):
        dask_backend.check_address(address)


@pytest.mark.parametrize("address", ["tcp://localhost:1", "tcp://10.0.0.5:65535", "tls://scheduler.lan:8786",
                                     "ws://localhost:8786", "wss://localhost:8786", "ucx://10.0.0.5:13337",
                                     "tcp://[::1]:8786", "inproc://192.0.2.2/123/1"])
def test_a_well_formed_address_is_returned_as_it_is(address):
    assert dask_backend.check_address(address) == address


# -- security_for -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["tls://localhost:8786", "wss://localhost:8786"])
def test_a_tls_address_without_certificates_in_the_configuration_is_one_line(address, no_tls_config):
    with one_line(NO_TLS.format(address)):
        dask_backend.security_for(address)


@pytest.mark.parametrize("address", ["tcp://localhost:8786", "ws://localhost:8786", "inproc://192.0.2.2/1/1"])
def test_a_plain_address_needs_no_security_even_with_certificates_configured(address):
    with dask_config(dict(zip(TLS_CONFIG, ("/etc/ca.pem", "/etc/client.pem", "/etc/client.key")))):
        assert dask_backend.security_for(address) is None


@pytest.mark.parametrize("key", ["distributed.comm.tls.ca-file", "distributed.comm.tls.client.cert"])
def test_a_ca_file_or_a_client_certificate_alone_is_enough_for_tls(key, no_tls_config):
    with dask_config({key: "/etc/nnbench/dask.pem"}):
        security = dask_backend.security_for("wss://localhost:8786")
    assert isinstance(security, distributed.Security)
    field = {"distributed.comm.tls.ca-file": "tls_ca_file", "distributed.comm.tls.client.cert": "tls_client_cert"}
    assert getattr(security, field[key]) == "/etc/nnbench/dask.pem"


# -- _probe -----------------------------------------------------------------------------------------------------------

def test_a_scheduler_passes_the_probe(cluster):
    assert dask_backend._probe(cluster.scheduler_address, None, 10) is None


def test_a_tls_scheduler_passes_the_probe_with_its_security(tls_cluster):
    lc, security = tls_cluster
    assert lc.scheduler_address.startswith("tls://")
    assert dask_backend._probe(lc.scheduler_address, security, 10) is None


def test_a_port_nobody_listens_on_is_one_line_after_the_timeout():
    address = f"tcp://127.0.0.1:{free_port()}"
    # distributed's own connect gives up at the same deadline as the probe, and either may say so first
    message = "^" + re.escape(NO_ANSWER.format(address, "0.5", "@")).replace("@", "(OSError|TimeoutError)") + "$"
    with pytest.raises(UserError, match=message):
        dask_backend._probe(address, None, 0.5)


def test_a_port_that_accepts_and_never_answers_times_out_in_one_line():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # the kernel accepts connections; nobody says a word
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with one_line(NO_ANSWER.format(address, "0.5", "TimeoutError")):
            dask_backend._probe(address, None, 0.5)


def test_the_timeout_is_the_wait_for_a_scheduler_still_starting_up():
    # distributed's own connect timeout would give up long before the scheduler listens
    with dask_config({"distributed.comm.timeouts.connect": "0.05s"}), \
            fake_server({"identity": lambda: {"type": "Scheduler"}}, delay=0.5) as address:
        assert dask_backend._probe(address, None, 30) is None


def test_a_worker_answers_but_is_not_a_scheduler(cluster):
    (worker,) = cluster.workers.values()
    assert worker.address.startswith("tcp://127.0.0.1:")
    with one_line(f"{worker.address} answered, but it is not a Dask scheduler"):
        dask_backend._probe(worker.address, None, 10)


def test_a_server_whose_identity_is_not_a_dict_is_not_a_scheduler():
    with fake_server({"identity": lambda: "Scheduler"}) as address:
        with one_line(f"{address} answered, but it is not a Dask scheduler"):
            dask_backend._probe(address, None, 10)


# -- quiet_logs -------------------------------------------------------------------------------------------------------

def loggers_with_a_console_handler(names):
    out = []
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = [logging.StreamHandler()], True
        out.append(logger)
    return out


def test_quiet_logs_drops_everything_distributed_tornado_and_bokeh_log_and_nothing_else():
    quiet = loggers_with_a_console_handler(["distributed", "distributed.nnbench_test", "tornado.nnbench_test",
                                            "bokeh.nnbench_test.deep"])
    loud = loggers_with_a_console_handler(["nnbench_test", "distributedx.nnbench_test", "nnbench_test.distributed",
                                           "nnbench_test.tornado.bokeh"])
    loud_handlers = [logger.handlers[0] for logger in loud]
    dask_backend.quiet_logs(False)
    for logger in quiet:
        assert [type(h) for h in logger.handlers] == [logging.NullHandler] and logger.propagate is False, logger.name
    for logger, handler in zip(loud, loud_handlers):
        assert logger.handlers == [handler] and logger.propagate is True, logger.name
    for name, logger in logging.root.manager.loggerDict.items():
        if name.split(".")[0] in QUIET and isinstance(logger, logging.Logger):
            assert [type(h) for h in logger.handlers] == [logging.NullHandler] and logger.propagate is False, name


def test_quiet_logs_leaves_every_logger_alone_when_logs_are_asked_for():
    loggers_with_a_console_handler(["distributed.nnbench_test", "tornado.nnbench_test", "bokeh.nnbench_test"])
    before = {name: (logger.handlers[:], logger.propagate) for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    dask_backend.quiet_logs(True)
    after = {name: (logger.handlers[:], logger.propagate) for name, logger in logging.root.manager.loggerDict.items()
             if isinstance(logger, logging.Logger)}
    assert after == before


# -- dask_cluster with a scheduler ------------------------------------------------------------------------------------

def test_a_scheduler_gives_a_connected_client_and_the_dask_backend_and_closes_it_after(cluster):
    with dask_backend.dask_cluster(cluster.scheduler_address, timeout=10) as (client, config):
        assert config == {"backend": "dask"}
        assert client.status == "running" and client.scheduler.address == cluster.scheduler_address
        assert client.id in cluster.scheduler.clients
        assert client.submit(sum, [40, 2]).result() == 42
    assert client.status == "closed"
    eventually(only_fire_and_forget(cluster))


def test_the_client_is_closed_when_the_block_fails(cluster):
    with pytest.raises(KeyError, match="inside"), dask_backend.dask_cluster(cluster.scheduler_address) as (client, _):
        raise KeyError("inside")
    assert client.status == "closed"
    eventually(only_fire_and_forget(cluster))


def test_distributed_logs_are_dropped_unless_asked_for(cluster):
    (console,) = loggers_with_a_console_handler(["distributed.nnbench_test"])
    handler = console.handlers[0]
    with dask_backend.dask_cluster(cluster.scheduler_address, logs=True):
        assert console.handlers == [handler] and console.propagate is True
    with dask_backend.dask_cluster(cluster.scheduler_address):
        assert [type(h) for h in console.handlers] == [logging.NullHandler] and console.propagate is False


def test_a_scheduler_without_workers_is_one_line_and_its_client_is_closed(idle_cluster):
    address = idle_cluster.scheduler_address
    with one_line(f"the Dask scheduler at {address} has no workers after 0.5 s: start some with "
                  f"`dask worker {address} --nthreads 1`"), dask_backend.dask_cluster(address, timeout=0.5):
        pass
    eventually(only_fire_and_forget(idle_cluster))


def test_a_malformed_address_is_one_line_before_anything_connects(monkeypatch):
    monkeypatch.setattr(distributed, "Client", None)  # connecting would fail otherwise
    with one_line(f"bad --scheduler 'tcp://127.0.0.1': no port; {usage()}"), \
            dask_backend.dask_cluster("tcp://127.0.0.1"):
        pass


def test_a_tls_scheduler_without_certificates_is_one_line(no_tls_config):
    with one_line(NO_TLS.format("tls://127.0.0.1:8786")), dask_backend.dask_cluster("tls://127.0.0.1:8786"):
        pass


def test_a_tls_scheduler_is_used_with_the_certificates_dask_is_configured_with(tls_cluster):
    lc, security = tls_cluster
    certificates = (security.tls_ca_file, security.tls_client_cert, security.tls_client_key)
    with dask_config(dict(zip(TLS_CONFIG, certificates))), \
            dask_backend.dask_cluster(lc.scheduler_address, timeout=10) as (client, config):
        assert config == {"backend": "dask"} and client.status == "running"
        assert client.submit(sum, [40, 2]).result() == 42
    assert client.status == "closed"


def test_a_port_that_never_answers_is_one_line_from_dask_cluster():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with one_line(NO_ANSWER.format(address, "0.5", "TimeoutError")), \
                dask_backend.dask_cluster(address, timeout=0.5):
            pass


def test_a_scheduler_that_never_takes_the_client_is_one_line_after_the_timeout():
    async def never():
        await asyncio.sleep(3600)

    handlers = {"identity": lambda **_: {"type": "Scheduler"}, "register-client": never}
    # distributed's own default would keep the client waiting an hour: the timeout given is the one used
    with dask_config({"distributed.comm.timeouts.connect": "3600s"}), fake_server(handlers) as address:
        with one_line(f"cannot connect to the Dask scheduler at {address} (TimeoutError: )"):
            with dask_backend.dask_cluster(address, timeout=0.5):
                pass


# -- dask_cluster on this machine -------------------------------------------------------------------------------------

def test_without_a_scheduler_a_local_cluster_runs_one_single_threaded_worker_process_per_core(monkeypatch, capfd,
                                                                                              recwarn):
    """Also when port 8787, Dask's default for the scheduler's HTTP server, is taken: no warning."""
    started = []
    taken = socket.socket()
    with contextlib.suppress(OSError):  # already held by something else: taken all the same
        taken.bind(("127.0.0.1", 8787))
        taken.listen()

    class Recorded(distributed.LocalCluster):
        def __init__(self, **kwargs):
            started.append(self)
            super().__init__(**kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    monkeypatch.setattr(dask_backend.os, "cpu_count", lambda: 1)
    with dask_backend.dask_cluster() as (client, config):
        (lc,) = started
        assert config == {"backend": "dask"} and client.scheduler.address == lc.scheduler_address
        workers = client.scheduler_info()["workers"]
        assert [w["nthreads"] for w in workers.values()] == [1]
        assert os.getpid() not in client.run(os.getpid).values()
        client.run(logging.getLogger("distributed.worker").critical, "nnbench: a critical line")
    assert client.status == "closed" and lc.status == distributed.core.Status.closed
    taken.close()
    err = capfd.readouterr().err
    assert "nnbench: a critical line" not in err  # the workers' own log stays out
    assert "8787" not in err and not [w for w in recwarn if "8787" in str(w.message)]


class Started(Exception):
    pass


@pytest.mark.parametrize("cores, workers, logs", [(2, 2, False), (None, 1, False), (3, 3, True)])
def test_the_local_cluster_has_a_worker_per_core_and_logs_only_if_asked(monkeypatch, cores, workers, logs):
    calls = []

    def local_cluster(**kwargs):
        calls.append(kwargs)
        raise Started

    monkeypatch.setattr(distributed, "LocalCluster", local_cluster)
    monkeypatch.setattr(dask_backend.os, "cpu_count", lambda: cores)
    with pytest.raises(Started), dask_backend.dask_cluster(logs=logs):
        pass
    assert calls == [{"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
                      "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
                      "silence_logs": logging.INFO if logs else logging.CRITICAL + 1}]
