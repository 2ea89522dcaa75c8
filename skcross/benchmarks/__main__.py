"""``python -m skcross.benchmarks``: see :mod:`skcross.benchmarks`."""

import sys

from ._runner import main

# Guarded so that importing this module (pytest --doctest-modules does) runs nothing.
if __name__ == "__main__":
    sys.exit(main())
