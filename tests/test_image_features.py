"""benchmarks/image_features.py and bench_descriptors.py: descriptors by their definitions, the table."""

import numpy as np
import pytest

from test_bench_defaults import load_script


@pytest.fixture(scope="module")
def features():
    return load_script("image_features")


def test_uniform_lbp_codes(features):
    bins = features._uniform_lbp_bins()
    # 58 uniform 8-bit codes (0, 255 and the 56 codes with exactly two transitions), one bin for the rest
    assert len(np.unique(bins)) == 59
    assert np.sum(bins < 58) == 58
    assert bins[0] != 58 and bins[255] != 58 and bins[0b00001111] != 58
    assert bins[0b01010101] == 58


def test_descriptors_of_simple_images(features):
    flat = np.full((1, 16, 16), 0.5)
    assert np.allclose(features.gist_features(flat), 0, atol=1e-9)  # zero-mean filters ignore flat regions
    lbp = features.lbp_features(flat)
    assert lbp.shape == (1, 59) and lbp.max() == 1.0 and lbp[0, features._uniform_lbp_bins()[255]] == 1.0
    # a vertical edge: horizontal gradients only, orientation bin 0 at every pyramid level
    edge = np.zeros((1, 16, 16))
    edge[:, :, 8:] = 1.0
    phog = features.phog_features(edge)
    assert phog.shape == (1, 40) and np.isclose(phog.sum(), 1.0)
    assert np.isclose(phog[0, 0], 0.5)  # level 0 holds half the normalised mass, all of it in bin 0
    assert np.allclose(phog[0, 1:8], 0)
    gist = features.gist_features(edge)
    assert gist.shape == (1, 32) and (gist >= 0).all() and gist.max() > 0


def test_digit_descriptor_views(features):
    X, y = features.load_digit_descriptors()
    assert X.shape == (1797, 3) and len(np.unique(y)) == 10
    gist, lbp, phog = X.modalities()
    assert [A.shape[1] for A in (gist, lbp, phog)] == [32, 59, 40]
    for hist in (lbp, phog):
        assert (hist >= 0).all()
        np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    assert all(np.asarray(A).std(axis=0).max() > 0 for A in X.modalities())


def test_mfeat_pixel_descriptor_views(features, data_home):
    if not (data_home / "uci_mfeat" / "mfeat-pix.csv").exists():
        pytest.skip(f"uci_mfeat not found in {data_home}")
    X, y = features.load_mfeat_pixel_descriptors(data_home)
    assert X.shape == (2000, 3) and np.bincount(y).tolist() == [200] * 10
    assert [A.shape[1] for A in X.modalities()] == [32, 59, 40]


def test_descriptor_table(capsys, tmp_path):
    script = load_script("bench_descriptors")
    args = ["--data-sets", "digit-descriptors", "--splits", "0,1", "--methods", "MinVIRBM,DSCMR", "--smoke",
            "--max-samples", "200", "--cache", str(tmp_path)]
    assert script.main(args) == 0
    out = capsys.readouterr().out
    assert sorted(line.split(":")[0] for line in out.splitlines() if line.startswith("digit-descriptors[")) == [
        "digit-descriptors[200]#0", "digit-descriptors[200]#1"]
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| digit-descriptors"):
            rows[cells[1]] = cells
    assert {"MinVIRBM", "DSCMR", "Label space", "CCA"} <= set(rows)
    values = {m: [float(v) for v in cells[3].split(" / ")] for m, cells in rows.items()}
    wins = sum(v > values["CCA"][i] for i, v in enumerate(values["MinVIRBM"]))
    assert rows["MinVIRBM"][4] == f"{wins} of 2 splits"
    assert "smoke run, not the defaults" in out
    with pytest.raises(SystemExit, match="not one of"):
        script.main(["--data-sets", "cifar"])
