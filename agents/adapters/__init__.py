"""Adapters that put other libraries' agents behind the `Agent` protocol.

Stable-baselines3 and d3rlpy.
"""
