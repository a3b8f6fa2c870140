"""Runs: the lifecycle every run goes through, the store that keeps them, and the single runs
of ``zoo train`` and ``zoo evaluate``.

- :mod:`zoo.runs.lifecycle`: open (or claim) a run's row, call the run hooks, do the work
  under the failure rules, finish the row;
- :mod:`zoo.runs.store`: the SQLite runs database (claims, owners, interrupted rows);
- :mod:`zoo.runs.merge`: the rows of several stores read as one (``--db`` given several
  times), each run and each suite cell counted once;
- :mod:`zoo.runs.results`: a run as plain data (:class:`RunResult`, :class:`Outcome`);
- :mod:`zoo.runs.executors`: many runs on worker processes or a Ray cluster, the driver
  alone writing the store;
- :mod:`zoo.runs.single`: ``zoo train`` and ``zoo evaluate``.

This package's ``__init__`` imports nothing, so the store and results load without torch.

Owns: the run lifecycle, the runs store, run results, executors and single runs. May import:
zoo.errors, zoo.plugins, zoo.data, zoo.training, zoo.models, zoo.evaluation (a test checks
it; imports run downward only).
"""
