"""The Gymnasium environments: one env class per module (or package per env family)."""
