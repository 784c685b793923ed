"""Bridges from other tools' users to ressearch studies: KerasTuner hypermodels from Python.

Above the results layer, below the CLI: must not import the CLI. What a trial needs at run time
(the KerasTuner adapter, loading and building a hypermodel) lives in the search and arch layers,
so that ``ressearch run`` and ``ressearch worker`` processes run hypermodel studies too.
"""
