"""The commonpurse benchmark: ``python -m bench`` from the repository root.

It generates a synthetic national programme deterministically by seed (``bench.generate``),
imports it through the real ``commonpurse`` command, and measures import speed and memory, the
raw SQLite insert ceiling (``bench.raw``), beancount's load speed on the same operations
(``bench.beancount_file``), balances, ``check``, a 2,000-line distribution statement and the web
app under concurrent clients (``bench.web``), on SQLite and PostgreSQL. ``bench.report`` writes
the results, with the targets judged from the numbers, to ``docs/performance.md``.

The package is not installed with the product; run it from a checkout, in the project's
virtualenv.
"""
