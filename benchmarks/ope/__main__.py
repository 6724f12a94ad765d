"""`python -m benchmarks.ope`: see the package docstring."""

from benchmarks._common import run
from benchmarks.ope import Args, main

if __name__ == "__main__":
    run(main, Args)
