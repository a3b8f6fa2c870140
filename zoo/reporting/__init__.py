"""Reporting: stored runs turned into what a researcher publishes.

- :mod:`zoo.reporting.leaderboard`: a suite's runs as models x datasets, mean +/- std over
  seeds, ranks and the published reference rows (built as data);
- :mod:`zoo.reporting.significance`: the tests that mark the models not significantly worse
  than the best (per dataset over seeds, overall over datasets);
- :mod:`zoo.reporting.render`: that leaderboard as a terminal table, Markdown, CSV or JSON;
- :mod:`zoo.reporting.runs`: the local runs browser (``zoo runs``, ``zoo runs show``);
- :mod:`zoo.reporting.report`: a suite's report to publish (``zoo report``): the board,
  significance over datasets, figures (matplotlib, imported only when drawing).

Owns: leaderboards (built apart from rendered), reports and the runs browser. May import:
zoo.errors, zoo.plugins, zoo.runs (a test checks it; imports run downward only).
"""
