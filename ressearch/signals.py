"""Stop signals (Ctrl-C, SIGTERM): where they are handled, and where the work may stop on one.

Standard library only, so that every layer, training included, can mark its safe points.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["held_interrupts", "pending_interrupt", "raise_interrupt", "stop_signals"]

# The stop signals that arrived inside held_interrupts() and wait for its next safe point; None
# outside it. Only the main thread's signal handler appends (signals run there alone).
_held: list[int] | None = None


def raise_interrupt(signum: int) -> None:
    """A :func:`stop_signals` handler: SIGTERM stops the work as Ctrl-C does.

    Inside :func:`held_interrupts` the KeyboardInterrupt waits for the next safe point instead of
    landing on whatever bytecode runs at that moment; a second signal there raises at once (a
    fit that reaches no safe point for long, a hypermodel's own loop, still stops on demand).
    """
    if _held is not None and not _held:
        _held.append(signum)
        return
    raise KeyboardInterrupt(f"signal {signum}")


def pending_interrupt() -> None:
    """A safe point inside :func:`held_interrupts`: raise KeyboardInterrupt if a stop signal came."""
    if _held:
        raise KeyboardInterrupt(f"signal {_held[0]}")


@contextmanager
def held_interrupts() -> Iterator[None]:
    """Inside, a stop signal handled by :func:`raise_interrupt` raises at :func:`pending_interrupt`
    (training calls it between batches) or on leaving the block, not where it lands.

    Raised anywhere, the KeyboardInterrupt can cut through TensorFlow's or h5py's Python half
    way through a call into native code (an op, a weights file being written), whose objects are
    then freed in a state they were never meant to be in: once in a suite run the stopped process
    aborted in ``free()`` instead of exiting. A block that ends with another exception after a
    signal came (a trial pruned at that epoch's end) raises KeyboardInterrupt instead: the signal
    is never lost. Nested blocks share the outer one's signals.
    """
    global _held
    if _held is not None:
        yield
        return
    _held = []
    try:
        yield
        pending_interrupt()
    except KeyboardInterrupt:
        raise
    except BaseException:
        if _held:  # the work ended otherwise (a pruned trial) after the signal came: it still stops
            raise KeyboardInterrupt(f"signal {_held[0]}") from None
        raise
    finally:
        _held = None


@contextmanager
def stop_signals(handler: Callable[[int], None]) -> Iterator[None]:
    """Call ``handler(signum)`` on SIGINT (Ctrl-C) and SIGTERM (a supervisor, ``kill``) inside.

    SIGINT is installed explicitly: a process started in the background, or under ``timeout``,
    inherits it ignored, and Python then never raises KeyboardInterrupt. Outside the main thread
    (where signals cannot be handled) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
