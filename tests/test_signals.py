"""Stop signals: handled where they land, or held until the work reaches a safe point."""

from __future__ import annotations

import os
import signal

import pytest


def test_a_held_stop_signal_raises_at_the_next_safe_point_and_is_never_lost():
    """A real SIGTERM to this process: outside a held block it interrupts at once; inside one the
    code goes on until pending_interrupt() (or the block's end), an exception that ends the block
    after the signal came becomes the KeyboardInterrupt, and a second signal raises at once."""
    from ressearch.signals import held_interrupts, pending_interrupt, raise_interrupt, stop_signals

    reached = []
    with stop_signals(raise_interrupt):
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("unheld")  # never: the handler raised first

        with pytest.raises(KeyboardInterrupt, match="signal 15"), held_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("held")  # the signal waits for a safe point
            with pytest.raises(KeyboardInterrupt):
                pending_interrupt()
            reached.append("after the safe point")  # (caught here: the block's end raises again)

        with pytest.raises(KeyboardInterrupt), held_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            raise ValueError("a pruned trial, say")  # the work ended otherwise: still stopped

        with pytest.raises(KeyboardInterrupt), held_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("one signal held")
            os.kill(os.getpid(), signal.SIGINT)  # a second one does not wait
            reached.append("never")

        with held_interrupts():  # no signal: nothing raises, at a safe point or at the end
            pending_interrupt()
        pending_interrupt()  # outside a block: a no-op
    assert reached == ["held", "after the safe point", "one signal held"]
