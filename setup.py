"""Only the C part of the build; everything else is in pyproject.toml."""

from setuptools import Extension, setup

# The matcher's inner loop (bot/detect/_scan.c). Optional: where it cannot be
# compiled the install still succeeds and bot/detect/matcher.py runs the same
# loop in Python (tests/test_matcher_oracle.py fails then, so CI notices).
setup(ext_modules=[Extension("callguard.detect._scan", ["bot/detect/_scan.c"], optional=True)])
