import numpy as np
import pytest

from skcross import MultiModal
from skcross.datasets import (
    load_digit_halves,
    load_mfeat,
    load_nutrimouse,
    load_wikipedia,
    make_multimodal_classification,
)


def test_digit_halves():
    X, y = load_digit_halves()
    assert X.names == ["left", "right"] and X.shape == (1797, 2)
    assert X.modality("left").shape == (1797, 32) and X.modality("left").max() <= 1.0
    Xb, _ = load_digit_halves(binarize=True)
    assert set(np.unique(Xb.modality(0))) == {0.0, 1.0}
    from sklearn.datasets import load_digits

    img = load_digits().images[5] / 16
    np.testing.assert_array_equal(X.modality("right")[5].reshape(8, 4), img[:, 4:])


def test_wikipedia(data_home):
    if not (data_home / "wikipedia_rasiwasia").is_dir():
        pytest.skip("wikipedia_rasiwasia not in the data folder")
    Xtr, Xte, ytr, yte = load_wikipedia(data_home)
    assert Xtr.shape == (2173, 2) and Xte.shape == (693, 2)
    assert Xtr.modality("image").shape[1] == 128 and Xtr.modality("text").shape[1] == 10
    assert np.bincount(ytr)[1:].tolist() == [138, 272, 244, 248, 202, 178, 186, 144, 214, 347]


def test_mfeat(data_home):
    if not (data_home / "uci_mfeat").is_dir():
        pytest.skip("uci_mfeat not in the data folder")
    X, y = load_mfeat(data_home)
    assert X.names == ["fou", "fac", "kar", "pix", "zer", "mor"]
    assert [X.modality(v).shape[1] for v in X.names] == [76, 216, 64, 240, 47, 6]
    assert np.bincount(y).tolist() == [200] * 10
    X2, _ = load_mfeat(data_home, views=["kar", "fou"])
    assert X2.names == ["kar", "fou"]
    with pytest.raises(ValueError, match="Unknown mfeat views"):
        load_mfeat(data_home, views=["xyz"])


def test_nutrimouse(data_home):
    if not (data_home / "nutrimouse").is_dir():
        pytest.skip("nutrimouse not in the data folder")
    X, y = load_nutrimouse(data_home)
    assert X.shape == (40, 2) and len(set(y)) == 5


def test_missing_folder_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="raw_features.mat.*wikipedia_rasiwasia"):
        load_wikipedia(tmp_path)
    with pytest.raises(FileNotFoundError, match="mfeat-fou.csv"):
        load_mfeat(tmp_path)


@pytest.mark.parametrize("multilabel", [False, True])
def test_make_multimodal_classification(multilabel):
    X, y = make_multimodal_classification(n_samples=50, n_modalities=3, n_classes=4, n_features=[2, 3, 4], multilabel=multilabel, random_state=0)
    assert isinstance(X, MultiModal) and X.shape == (50, 3)
    assert [X.modality(i).shape[1] for i in range(3)] == [2, 3, 4]
    if multilabel:
        assert y.shape == (50, 4) and y.sum(axis=1).min() >= 1
    else:
        assert y.shape == (50,)
    X2, y2 = make_multimodal_classification(n_samples=50, n_modalities=3, n_classes=4, n_features=[2, 3, 4], multilabel=multilabel, random_state=0)
    np.testing.assert_array_equal(X.modality(2), X2.modality(2))
