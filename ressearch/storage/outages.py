"""Storages that wait out a restart of the database (or of the proxy) instead of failing.

Optuna's RDB storage turns a lost connection into ``StorageInternalError`` at once, and its gRPC
client raises ``grpc.RpcError``. A database or proxy that restarts (an upgrade, a failover,
``pg_ctlcluster ... restart``) is gone for seconds: every call of :class:`OutageTolerantStorage`
or :class:`OutageTolerantProxy` that fails because the server cannot be reached is retried with
exponential back-off (0.5 s, 1 s, 2 s, ... at most 10 s apart) for up to ``outage_s`` seconds,
then raises. Errors about the data itself (a bad value, a constraint) are not retried. The
database pool is pre-pinged, so a connection the restart closed is replaced, not used.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
import optuna
from sqlalchemy import exc as sqlalchemy_exc

from ressearch.redact import redact

__all__ = ["OutageTolerantProxy", "OutageTolerantStorage", "is_outage", "stop_waiting"]

_LOG = logging.getLogger("ressearch.storage")
_FIRST_WAIT_S = 0.5
_LONGEST_WAIT_S = 10.0
# What a storage call raises when the database or the proxy does not answer (and other faults).
_STORAGE_ERRORS = (optuna.exceptions.StorageInternalError, sqlalchemy_exc.SQLAlchemyError, grpc.RpcError)
# Every storage call a worker makes; each is one transaction, so a retry after a failed
# connection repeats nothing that was committed.
_CALLS = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "get_best_trial",
    "record_heartbeat",
    # What Optuna's cache in front of an RDB storage calls instead of the public names.
    "_create_new_trial",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
    "_get_trials",
    "_set_trial_param",
)

F = TypeVar("F", bound=Callable[..., Any])


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database could not be reached."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, grpc.RpcError) and isinstance(seen, grpc.Call):
            return seen.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        if isinstance(seen, sqlalchemy_exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, sqlalchemy_exc.OperationalError | sqlalchemy_exc.InterfaceError):
            return True
        if isinstance(seen, sqlalchemy_exc.IntegrityError | sqlalchemy_exc.DataError):
            return False
        seen = seen.__cause__ or seen.__context__
    return False


def stop_waiting(storage: optuna.storages.BaseStorage) -> None:
    """From now on, calls of ``storage`` that find the server gone fail at once instead of waiting:
    a run that has waited ``outage_s`` for it already only makes its last, best-effort writes."""
    backend = getattr(storage, "_backend", storage)  # Optuna's cache in front of an RDB storage
    if isinstance(backend, OutageTolerantStorage | OutageTolerantProxy):
        backend.outage_s = 0.0


def _tolerant(call: F, name: str) -> F:
    @functools.wraps(call)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        wait = _FIRST_WAIT_S
        since: float | None = None
        while True:
            try:
                result = call(self, *args, **kwargs)
            except _STORAGE_ERRORS as error:
                if not is_outage(error):
                    raise
                since = since or time.monotonic()
                if time.monotonic() - since + wait > self.outage_s:
                    raise
                _LOG.warning(
                    "storage: %s is unreachable (%s); retrying in %.1f s",
                    self.redacted_url,
                    name,
                    wait,
                )
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT_S)
                continue
            if since is not None:
                _LOG.warning("storage: %s is back after %.0f s", self.redacted_url, time.monotonic() - since)
            return result

    return wrapper  # type: ignore[return-value]


class OutageTolerantStorage(optuna.storages.RDBStorage):
    """An ``RDBStorage`` whose calls wait out an unreachable server for up to ``outage_s``."""

    def __init__(self, url: str, *, outage_s: float = 120.0, **kwargs: Any) -> None:
        self.outage_s = outage_s
        self.redacted_url = redact(url)
        super().__init__(url, **kwargs)


class OutageTolerantProxy(optuna.storages.GrpcStorageProxy):
    """A client of the gRPC storage proxy whose calls wait out an unreachable proxy."""

    def __init__(self, *, host: str, port: int, outage_s: float = 120.0) -> None:
        self.outage_s = outage_s
        self.redacted_url = f"grpc://{host}:{port}"
        super().__init__(host=host, port=port)


for _kind in (OutageTolerantStorage, OutageTolerantProxy):
    _base = _kind.__mro__[1]
    for _name in _CALLS:
        if hasattr(_base, _name):
            setattr(_kind, _name, _tolerant(getattr(_base, _name), _name))


def _heartbeat_or_warn(tolerant: F) -> F:
    """A heartbeat the storage stayed away for is skipped with a warning: it runs in Optuna's
    heartbeat thread, where an exception would print a traceback and end the thread. The trial's
    own calls meet the outage too, and end the run in one line (see the search layer)."""

    @functools.wraps(tolerant)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return tolerant(self, *args, **kwargs)
        except _STORAGE_ERRORS as error:
            if not is_outage(error):
                raise
            _LOG.warning("storage: %s is unreachable: a heartbeat was not recorded", self.redacted_url)
            return None

    return wrapper  # type: ignore[return-value]


OutageTolerantStorage.record_heartbeat = _heartbeat_or_warn(OutageTolerantStorage.record_heartbeat)  # type: ignore[method-assign]
