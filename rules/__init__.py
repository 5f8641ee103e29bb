"""The shipped rule files (scam_patterns.yaml, and the data files beside it).

This folder is installed as the package ``callguard.rules`` (pyproject.toml), so
the files travel inside the wheel and are found with importlib.resources from
any working directory: see bot/rulefiles.py. It holds no code.
"""
