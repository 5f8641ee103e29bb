"""Only the C part of the build; everything else is in pyproject.toml."""

from setuptools import Extension, setup

# The detection core's inner loops (bot/detect/_kernels.c), twins of
# bot/detect/pykernels.py. Optional: where no C compiler is there the install
# still succeeds and bot/detect/kernels.py runs the Python twins (same results,
# slower; tests/test_kernels.py says so when it was not built).
setup(ext_modules=[Extension("callguard.detect._kernels", ["bot/detect/_kernels.c"], optional=True)])
