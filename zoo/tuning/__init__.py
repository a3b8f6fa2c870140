"""The researcher's toolbox around runs: hyperparameter search and k-fold cross-validation.

- :mod:`zoo.tuning.space`: the search space, built from a model's :class:`HParam`
  declarations (``search``, ``log``) and overridable by a YAML file;
- :mod:`zoo.tuning.scoring`: one stored run trained on one split and scored on its
  validation rows (a tuning trial, a fold), the objective metric and its direction;
- :mod:`zoo.tuning.cv`: ``--cv K``: one stored run per fold, mean and spread;
- :mod:`zoo.tuning.study`: ``zoo tune``: an Optuna study (TPE, GP, random, grid; median or
  successive-halving pruning) persisted in a journal file or an RDB, every trial a stored
  run, then a retrain with the best parameters and one evaluation on the test split;
- :mod:`zoo.tuning.pruning`: the epoch-end Lightning callback that reports to a trial.

Nothing here reads a test split while choosing: trials and folds get it sealed
(:func:`zoo.data.splits.sealed_test`). Optuna (the ``tune`` extra) and Lightning are imported
only inside the functions that tune or train.

Owns: search spaces, trials, studies, cross-validation. May import: zoo.errors, zoo.plugins,
zoo.data, zoo.training, zoo.models, zoo.evaluation, zoo.runs (a test checks it; imports run
downward only).
"""

#: ``zoo tune --sampler``: Optuna's TPE (Bayesian, the default), Gaussian-process, random and
#: grid samplers.
SAMPLERS = ("tpe", "gp", "random", "grid")
#: ``zoo tune --pruner``: Optuna's median and successive-halving pruners, or none.
PRUNERS = ("median", "halving", "none")
