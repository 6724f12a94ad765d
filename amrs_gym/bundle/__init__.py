"""Simulator bundles: a catalog, a world model and everything that says what it is, in one place.

`Bundle.load(path)` reads and checks one; `python -m amrs_gym.world_model.train --logs LOGS
--catalog CATALOG --out BUNDLE` builds one (`amrs_gym.bundle.build`).
"""

from amrs_gym.bundle.bundle import Bundle, BundleError, NoTruthError

__all__ = ["Bundle", "BundleError", "NoTruthError"]
