"""``ressearch storage-proxy``: one process that holds the database connections for many workers."""

from __future__ import annotations

from typing import Annotated

import typer

from ressearch.cli.app import app
from ressearch.cli.options import StorageOption
from ressearch.cli.output import err, user_errors
from ressearch.cli.results import _check_port_free
from ressearch.errors import ConfigError


@app.command("storage-proxy")
@user_errors
def storage_proxy(
    storage: StorageOption = None,
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, metavar="PORT", help="Port to listen on.")] = 13000,
    threads: Annotated[
        int, typer.Option(min=1, max=256, help="Requests served at once: the database connections held.")
    ] = 8,
) -> None:
    """Serve Optuna's gRPC storage proxy: workers given `--storage grpc://HOST:PORT` share its few
    database connections instead of holding their own.

    Writes what its clients write, to the storage behind it (nothing of its own).
    """
    from concurrent.futures import ThreadPoolExecutor

    import optuna

    from ressearch.redact import redact
    from ressearch.signals import raise_interrupt, stop_signals
    from ressearch.storage.urls import is_grpc, open_rdb_storage, resolve_storage_url

    url = resolve_storage_url(storage)
    if is_grpc(url):
        raise ConfigError("--storage: a proxy serves a database, not another proxy; give the database URL")
    _check_port_free(host, port)
    # Optuna's advice: the cached storage, so the proxy does not reread finished trials.
    backend = optuna.storages.get_storage(open_rdb_storage(url, heartbeat=False, pool_size=threads))
    err.print(
        f"storage proxy for {redact(url)} on grpc://{host}:{port}, {threads} connections at most "
        "(Ctrl-C stops it)",
        markup=False,
    )
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ressearch-proxy")
    try:
        with stop_signals(raise_interrupt):
            optuna.storages.run_grpc_proxy_server(backend, host=host, port=port, thread_pool=pool)
    except KeyboardInterrupt:
        err.print("storage proxy stopped", markup=False)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
