"""Runnable benchmarks, each `python -m benchmarks.<name> --out DIR`.

See each module's docstring.
"""

from amrs_gym.compat import quiet_legacy_gym

quiet_legacy_gym()  # before any benchmark imports SB3 or d3rlpy
