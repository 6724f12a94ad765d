"""Adapters that put other libraries' agents behind the `Agent` protocol: stable-baselines3 and d3rlpy."""
