import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "skcross" / "_version.py").read_text()).group(1)

setup(
    name="skcross",
    version=version,
    description="scikit-learn compatible cross-modal retrieval: a common space for images, texts, audio...",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    packages=find_packages(include=["skcross", "skcross.*"]),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.23",
        "scipy>=1.9",
        "scikit-learn>=1.3",
        "torch>=2.0",
        "skorch>=0.15",
        "joblib>=1.2",
        # already installed with scikit-learn; imported directly to run numpy's
        # BLAS single-threaded around HarmonizedGPLVM's optimiser
        "threadpoolctl>=3.1",
        "tqdm>=4.60",
    ],
    extras_require={
        "plot": ["matplotlib>=3.5"],
        "faiss": ["faiss-cpu>=1.7"],
        "dask": ["dask[distributed]>=2023.1"],
        "bench": ["torchmetrics>=1.0", "ranx>=0.3", "pytorch-metric-learning>=2.0"],
        "test": ["pytest>=7", "pytest-xdist>=3.8", "hypothesis>=6", "matplotlib>=3.5", "dask[distributed]>=2023.1", "pandas>=1.5"],
        "docs": [
            "sphinx>=7", "numpydoc>=1.6", "matplotlib>=3.5",
            "pydata-sphinx-theme>=0.15", "sphinx-gallery>=0.17", "sphinx-mathjax-offline>=0.0.2",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
