"""Logged listening sessions: generation, schema, reading, splits and real-data loaders."""
