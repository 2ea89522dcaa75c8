from collections import Counter

import numpy as np
import pytest

from conftest import require_dataset
from skcross import MultiModal
from skcross.datasets import (
    MULTIMODAL_DIFFICULTY,
    MULTIVIEW_DATASETS,
    load_digit_halves,
    load_mfeat,
    load_multiview,
    load_nutrimouse,
    load_wikipedia,
    make_multimodal_classification,
    multimodal_difficulty,
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


# Shapes and class counts as the data folders' READMEs state them.
MULTIVIEW_EXPECTED = {
    "BBCSport": ({"part1": 3183, "part2": 3203}, {1: 62, 2: 104, 3: 193, 4: 124, 5: 61}),
    "Reuters-1200": (dict.fromkeys(["english", "french", "german", "spanish", "italian"], 2000),
                     dict.fromkeys(range(1, 7), 200)),
    "MSRC_v1": ({"cm": 24, "hog": 576, "gist": 512, "lbp": 256, "centrist": 254}, dict.fromkeys(range(1, 8), 30)),
    "100Leaves": (dict.fromkeys(["margin", "shape", "texture"], 64), dict.fromkeys(range(1, 101), 16)),
    "Prokaryotic": ({"gene_repertoire": 393, "proteome_composition": 3, "text": 438},
                    {1: 313, 2: 91, 3: 35, 4: 112}),
}


def test_multiview_names_are_listed():
    assert set(MULTIVIEW_DATASETS) == set(MULTIVIEW_EXPECTED)


@pytest.mark.parametrize("name", sorted(MULTIVIEW_EXPECTED))
def test_load_multiview(name):
    data_home = require_dataset(f"multiview/{name}")
    views, counts = MULTIVIEW_EXPECTED[name]
    X, y = load_multiview(name, data_home)
    n = sum(counts.values())
    assert X.names == list(views) and X.shape == (n, len(views))
    for view, d in views.items():
        A = X.modality(view)
        assert A.shape == (n, d) and A.dtype == np.float64 and np.isfinite(A).all()
    assert dict(zip(*np.unique(y, return_counts=True))) == counts

    Xtr, ytr = load_multiview(name, data_home, split="train")
    Xte, yte = load_multiview(name, data_home, split="test")
    n_test = int(np.ceil(0.3 * n))  # the READMEs' sizes: 380/164, 840/360, 147/63, 1120/480, 385/166
    assert (len(ytr), len(yte)) == (n - n_test, n_test)
    assert Xtr.shape == (len(ytr), len(views)) and Xte.shape == (len(yte), len(views))
    # Stratified: every class keeps its share in both parts (to one sample).
    for label, c in counts.items():
        assert abs((yte == label).sum() - 0.3 * c) <= 1
    # Duplicated samples (identical in every view), as load_multiview's docstring says.
    n_unique = {"BBCSport": 537, "Reuters-1200": 1197}.get(name, n)
    assert len(np.unique(np.hstack(X.modalities()), axis=0)) == n_unique
    # Together the parts are the whole set (as a multiset of rows of all views:
    # BBCSport and Reuters-1200 hold a few duplicate samples).
    def rows(M, labels):
        return Counter(np.concatenate([M.modality(v)[i] for v in views] + [labels[i:i + 1]]).tobytes()
                       for i in range(len(M)))

    assert rows(Xtr, ytr) + rows(Xte, yte) == rows(X, y)
    # Deterministic.
    Xtr2, ytr2 = load_multiview(name, data_home, split="train")
    np.testing.assert_array_equal(ytr, ytr2)
    for v in views:
        np.testing.assert_array_equal(Xtr.modality(v), Xtr2.modality(v))


def test_100leaves_view_order():
    # The source lists shape, margin, texture; the stored order is margin, shape, texture.
    X, _ = load_multiview("100Leaves", require_dataset("multiview/100Leaves"))
    np.testing.assert_allclose(X.modality("margin").sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(X.modality("texture").sum(axis=1), 1.0, atol=1e-4)
    assert X.modality("shape").sum(axis=1).max() < 0.2 and (X.modality("shape") > 0).all()


def test_multiview_errors(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_multiview("bbcsport", tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        load_multiview("BBCSport", tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match=r"BBCSport\.mat.*SKCROSS_DATA_HOME"):
        load_multiview("BBCSport", tmp_path)


def test_multiview_honours_skcross_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCROSS_DATA_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "multiview" / "MSRC_v1")):
        load_multiview("MSRC_v1")


def test_multimodal_difficulty_levels():
    assert list(MULTIMODAL_DIFFICULTY) == ["easy", "medium", "hard"]
    params = multimodal_difficulty("hard")
    params["noise"] = 99.0  # a copy: the presets are not changed
    assert MULTIMODAL_DIFFICULTY["hard"]["noise"] == 1.0
    seps = [MULTIMODAL_DIFFICULTY[k]["class_sep"] for k in ("easy", "medium", "hard")]
    noises = [MULTIMODAL_DIFFICULTY[k]["noise"] for k in ("easy", "medium", "hard")]
    assert seps == sorted(seps, reverse=True) and noises == sorted(noises)
    for level in MULTIMODAL_DIFFICULTY:
        X, y = make_multimodal_classification(**multimodal_difficulty(level), random_state=0)
        assert X.shape == (1000, 2) and len(np.unique(y)) == MULTIMODAL_DIFFICULTY[level]["n_classes"]
    with pytest.raises(ValueError, match="level must be one of"):
        multimodal_difficulty("extreme")


def test_class_sep_scales_the_class_centres():
    kw = dict(n_samples=300, n_classes=3, n_features=5, noise=0.0, random_state=0)
    X1, y1 = make_multimodal_classification(**kw)
    X2, y2 = make_multimodal_classification(**kw, class_sep=2.0)  # the default
    np.testing.assert_array_equal(X1.modality(0), X2.modality(0))
    X3, y3 = make_multimodal_classification(**kw, class_sep=0.1)
    np.testing.assert_array_equal(y1, y3)

    def between_over_within(X, y):
        A = X.modality(0)
        means = np.array([A[y == c].mean(axis=0) for c in np.unique(y)])
        within = np.mean([A[y == c].var(axis=0).sum() for c in np.unique(y)])
        return means.var(axis=0).sum() / within

    assert between_over_within(X3, y3) < 0.5 * between_over_within(X1, y1)
    with pytest.raises(ValueError, match="class_sep"):
        make_multimodal_classification(class_sep=0.0)
