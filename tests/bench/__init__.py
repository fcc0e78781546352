"""The bench of issue 13 (``python -m tests.bench``, ``make bench``): see __main__."""
