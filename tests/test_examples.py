"""Every script in examples/ runs end to end in its quick mode."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import skcross

from conftest import DATA_HOME

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUT = EXAMPLES / "_out"

# script -> (skcross names it needs (any one of them suffices), data set folder or None, files it writes)
CASES = {
    "plot_wikipedia_retrieval.py": ((), "wikipedia_rasiwasia", ["wikipedia_pr.png"]),
    "tune_gplvm_mu.py": (("HarmonizedGPLVM",), None, []),
    "pipeline_per_modality.py": (("SDML", "DSCMR"), None, []),
    "sdml_add_modality.py": (("SDML",), "uci_mfeat", []),
    "minvi_fill_missing_half.py": (("MinVIRBM",), None, ["minvi_fill_missing_half.png"]),
    "vae_generate.py": (("CrossModalVAE",), None, ["vae_generate.png"]),
}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_in_quick_mode(script):
    needs, dataset, outputs = CASES[script]
    if needs and not any(hasattr(skcross, name) for name in needs):
        pytest.skip(f"{script} needs skcross.{' or '.join(needs)}, which this version does not export")
    if dataset is not None and not (DATA_HOME / dataset).is_dir():
        pytest.skip(f"{script} needs the {dataset!r} data set in {DATA_HOME} (set SKCROSS_DATA_HOME)")
    for name in outputs:
        (OUT / name).unlink(missing_ok=True)
    env = dict(os.environ, SKCROSS_QUICK="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    args = [sys.executable, str(EXAMPLES / script), "--quick"]
    if dataset is not None:
        args += ["--data-home", str(DATA_HOME)]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{script} printed nothing"
    for name in outputs:
        assert (OUT / name).stat().st_size > 1000, f"{script} did not write {name}"
