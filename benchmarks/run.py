"""Package-wide benchmark: every skcross estimator and its peers on the same splits.

A thin wrapper of ``python -m skcross.benchmarks`` (the code lives in
``skcross/benchmarks/_runner.py``). Examples::

    python benchmarks/run.py --datasets wikipedia,mfeat,digits --methods all \\
        --data-home ../shared/data --out benchmarks/
    python benchmarks/run.py --quick              # under 5 minutes
    python benchmarks/run.py --datasets digits --smoke --max-samples 300
"""

import sys

from skcross.benchmarks import main

if __name__ == "__main__":
    sys.exit(main())
