"""Keras' multi-step train and test functions, traced without what a known step count makes moot.

With ``steps_per_execution`` above 1, Keras 3 on TensorFlow runs a call's steps in a
``tf.while_loop`` that does not know how many batches are left: each turn asks the iterator for
an optional next batch and runs the step inside a ``tf.cond`` on it, and a second ``tf.cond``
decides whether to fetch again. Every trial traces these functions anew, and each ``tf.cond``
captures all the model's and optimizer's variables once more, so the wrapper cost about as much
to trace as the step inside it. ``fit`` always knows how many batches an epoch has (the rows and
the batch size), so the functions given here run exactly the next ``k`` steps of the epoch:
``k = min(steps_per_execution, steps left)``, a ``tf.while_loop`` over a counter with no
``tf.cond`` and no optional. The step itself is Keras' own ``train_step``/``test_step``,
compiled as Keras compiles it, so the numbers are the same to the bit (a test checks); only the
trace is smaller. On a 2-core CPU that took about 0.2 s off each ``tabular`` trial's start on
``hmda`` and ``arrests`` rows and nothing measurable off its later epochs (paired runs of stored
trial configs, README "Where a trial's time goes").

:func:`counted_steps` installs them on a compiled model for one ``fit`` and returns the callback
that keeps their count; :func:`keras_steps` puts Keras' own back (``evaluate`` or ``predict`` on
other data after ``fit`` must not use a count made for the training data). Keras only.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["StepCounter", "counted_steps", "keras_steps"]

_KEPT = "_ressearch_counted_steps"


class _ExactSteps:
    """A train or test function for Keras' epoch loop: the next ``k`` steps of the epoch in one
    call, ``k`` from the count of steps already run (reset by :class:`StepCounter`)."""

    def __init__(self, model: keras.Model, step: Any, *, steps_per_epoch: int) -> None:
        import tensorflow as tf

        self.model = model
        self.step = step
        self.steps_per_epoch = steps_per_epoch
        self.done = 0
        one_step = tf.function(
            tf.autograph.experimental.do_not_convert(step),
            reduce_retracing=True,
            jit_compile=model.jit_compile,
        )

        def run(iterator: Any, steps: Any) -> Any:
            outputs = one_step(next(iterator))  # the first step outside the loop gives its outputs' form

            def body(done: Any, _: Any) -> tuple[Any, Any]:
                return done + 1, one_step(next(iterator))

            _, outputs = tf.while_loop(lambda done, _: done < steps, body, (tf.constant(1), outputs))
            return outputs

        self._run = tf.function(tf.autograph.experimental.do_not_convert(run), reduce_retracing=True)
        self._keras: Any = None  # Keras' own function, for an iterator that is not tf.data's

    def __call__(self, iterator: Any) -> Any:
        import tensorflow as tf

        if not isinstance(iterator, tf.data.Iterator | tf.distribute.DistributedIterator):
            if self._keras is None:  # train_on_batch and the like: Keras' own loop
                self._keras = self.model._make_function(self.step)
            return self._keras(iterator)
        steps = min(self.model.steps_per_execution, self.steps_per_epoch - self.done)
        if steps <= 0:
            raise StopIteration
        outputs = self._run(iterator, tf.constant(steps))
        self.done += steps
        return outputs


class StepCounter(keras.callbacks.Callback):
    """Starts the count of the counted functions again at each epoch and each validation pass."""

    def __init__(self, train: _ExactSteps, test: _ExactSteps | None) -> None:
        super().__init__()
        self.train = train
        self.test = test

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.train.done = 0

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.test is not None:
            self.test.done = 0


def counted_steps(
    model: keras.Model, *, train_steps: int, validation_steps: int | None = None
) -> StepCounter | None:
    """Give the compiled ``model`` counted train (and, with ``validation_steps``, test) functions
    for the next ``fit``; the callback to pass to that ``fit``, or None where Keras' own are kept.

    ``train_steps`` and ``validation_steps`` are the batches of one epoch and of one validation
    pass, as ``fit`` will cut them. Keras' own functions stay for one step per execution (no
    loop to spare), for a model that runs eagerly, and under a ``tf.distribute`` strategy (whose
    replicas Keras' functions sum).

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse", steps_per_execution=4)
        >>> counter = counted_steps(model, train_steps=3)
        >>> history = model.fit(np.ones((10, 3)), np.ones(10), batch_size=4, epochs=2,
        ...                     callbacks=[counter], verbose=0)
        >>> counter.train.done, len(history.history["loss"])
        (3, 2)
        >>> keras_steps(model)
    """
    import tensorflow as tf

    strategy = getattr(model, "_distribute_strategy", None) is not None or tf.distribute.has_strategy()
    if model.steps_per_execution <= 1 or model.run_eagerly or strategy:
        return None
    train = _ExactSteps(model, model.train_step, steps_per_epoch=train_steps)
    model.train_function = train
    test = None
    if validation_steps:
        test = _ExactSteps(model, model.test_step, steps_per_epoch=validation_steps)
        model.test_function = test
    return StepCounter(train, test)


def keras_steps(model: keras.Model) -> None:
    """Put Keras' own train and test functions back (made again at the next ``fit``/``evaluate``).

    The counted ones stay with the model: dropped here, their graphs would be freed at once, in
    a ``__del__`` that swallows a Ctrl-C arriving meanwhile; kept, they are freed with the model
    in the collection the next trial starts with, as Keras' own functions are.
    """
    object.__setattr__(model, _KEPT, (model.train_function, model.test_function))
    model.train_function = None
    model.test_function = None
