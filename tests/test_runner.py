"""The package-wide benchmark runner (skcross.benchmarks), in its smallest modes."""

import csv

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import StandardScaler

import skcross
from skcross import MultiModal, PerModality
from skcross.benchmarks import _runner
from skcross.benchmarks._runner import (
    METHODS,
    CCAPeer,
    LabelSpaceBaseline,
    MethodSpec,
    Split,
    evaluate,
    run,
    save_curves,
)
from skcross.datasets import make_multimodal_classification
from skcross.metrics import mean_average_precision


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_smoke_run_writes_csv_and_markdown(tmp_path):
    results, failures = run([
        "--datasets", "digits", "--methods", "cca,pls,labelspace", "--smoke",
        "--max-samples", "200", "--out", str(tmp_path), "--no-figures",
    ])
    assert failures == []
    rows = _read_csv(tmp_path / "results.csv")
    assert [r["method"] for r in rows] == [METHODS[k].label for k in ("cca", "pls", "labelspace")]
    for row, res in zip(rows, results):
        assert row["dataset"] == "digits"
        assert (row["query"], row["target"]) == ("left", "right")
        assert row["n_ordered_pairs"] == "2"
        ab, ba, mean = (float(row[k]) for k in ("map_query_to_target", "map_target_to_query", "map_mean"))
        assert 0.0 < ab <= 1.0 and 0.0 < ba <= 1.0
        assert mean == pytest.approx((ab + ba) / 2, abs=1e-6)
        assert mean == pytest.approx(res.mean_map(), abs=1e-6)
        assert row["settings"].startswith("smoke")
        assert float(row["fit_time_s"]) >= 0 and float(row["transform_time_s"]) >= 0
    # Supervised label-space retrieval is far above unsupervised CCA on digits halves.
    by_method = {r["method"]: float(r["map_mean"]) for r in rows}
    assert by_method[METHODS["labelspace"].label] > by_method[METHODS["cca"].label] + 0.1

    md = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "| dataset | method | settings |" in md
    assert md.count("\n| digits |") == 3
    assert "## Grids searched" in md and "C ∈ {0.1, 1}" in md
    pairs = _read_csv(tmp_path / "results_pairs.csv")
    assert len(pairs) == 6


def test_unexported_estimator_is_skipped_and_reported(tmp_path, monkeypatch):
    ghost = MethodSpec("ghost", "Ghost", "NoSuchEstimator", fixed=lambda b: {}, grid=lambda b: {})
    monkeypatch.setitem(_runner.METHODS, "ghost", ghost)
    results, failures = run([
        "--datasets", "digits", "--methods", "ghost,labelspace", "--smoke",
        "--max-samples", "150", "--out", str(tmp_path), "--no-figures",
    ])
    assert [r.key for r in results] == ["labelspace"] and failures == []
    md = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Skipped" in md and "skcross.NoSuchEstimator is not exported" in md


def test_unknown_method_and_missing_data(tmp_path):
    with pytest.raises(SystemExit):
        run(["--methods", "nope", "--out", str(tmp_path)])
    results, _ = run([
        "--datasets", "wikipedia", "--methods", "labelspace", "--smoke",
        "--data-home", str(tmp_path / "absent"), "--out", str(tmp_path),
    ])
    assert results == []
    assert "data set wikipedia" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_cca_peer_matches_sklearn(digit_halves_split):
    Xtr, Xte, ytr, yte = digit_halves_split
    peer = CCAPeer(n_components=4, max_iter=500).fit(Xtr, ytr)
    ref = CCA(n_components=4, max_iter=500).fit(Xtr.modality(0), Xtr.modality(1))
    a, b = ref.transform(Xte.modality(0), Xte.modality(1))
    np.testing.assert_allclose(peer.transform(0, Xte.modality(0)), a, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(peer.transform(1, Xte.modality(1)), b, rtol=1e-6, atol=1e-8)
    expected = 0.5 * (mean_average_precision(a, b, yte, yte) + mean_average_precision(b, a, yte, yte))
    assert peer.score(Xte, yte) == pytest.approx(expected)
    with pytest.raises(ValueError, match="exactly two"):
        CCAPeer().fit([Xtr.modality(0)] * 3, ytr)


def test_label_space_baseline_unpaired_and_probabilities(small_multimodal):
    X, y = small_multimodal
    est = LabelSpaceBaseline(C=1.0).fit([X.modality(0), X.modality(1)[:80]], [y, y[:80]])
    P = est.transform(1, X.modality(1))
    assert P.shape == (len(y), 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    # posterior_temperature=0.5 squares the posteriors and renormalises them
    sharp = est.set_params(posterior_temperature=0.5).transform(1, X.modality(1))
    np.testing.assert_allclose(sharp, P**2 / (P**2).sum(axis=1, keepdims=True), rtol=1e-6)
    # posterior_similarity="probability": the posteriors completed to unit norm, so that
    # cross-modal cosine is their dot product, the probability of sharing a class
    est.set_params(posterior_temperature=1.0, posterior_similarity="probability")
    E0, E1 = est.transform(0, X.modality(0)), est.transform(1, X.modality(1))
    assert E1.shape == (len(y), 3 + 2)
    np.testing.assert_allclose(E1[:, :3], P, rtol=1e-6)
    cosine = (E0 @ E1.T) / np.outer(np.linalg.norm(E0, axis=1), np.linalg.norm(E1, axis=1))
    np.testing.assert_allclose(cosine, E0[:, :3] @ P.T, atol=1e-8)


def test_two_view_peer_is_fitted_pairwise_on_many_views():
    X, y = make_multimodal_classification(n_samples=160, n_modalities=3, n_features=[6, 5, 4], random_state=0)
    split = Split("toy", X[:100], X[100:], y[:100], y[100:], "toy")
    spec = MethodSpec(
        "cca", "CCA", lambda: CCAPeer(kind="cca"), fixed=lambda b: {"max_iter": 200},
        grid=lambda b: {"n_components": [3]}, two_view=True,
    )
    res = evaluate(spec, split, "smoke")
    assert len(res.pair_maps) == 6  # every ordered pair of three views
    assert "pairwise on all 3 view pairs" in res.settings
    assert res.best_params == "n_components=3 (x3)"
    # Each ordered pair is scored by the model of its own pair of views.
    peer = CCAPeer(n_components=3, max_iter=200)
    tr = MultiModal({"0": split.X_train.modality("0"), "2": split.X_train.modality("2")})
    te = MultiModal({"0": split.X_test.modality("0"), "2": split.X_test.modality("2")})
    scale = PerModality([StandardScaler(), StandardScaler()]).fit(tr)
    peer.fit(scale.transform(tr), split.y_train)
    emb = peer.embed(scale.transform(te)).modalities()
    assert res.pair_maps[("0", "2")] == pytest.approx(
        mean_average_precision(emb[0], emb[1], split.y_test, split.y_test)
    )


def test_curves_are_saved(tmp_path, digit_halves_split):
    pytest.importorskip("matplotlib")
    Xtr, Xte, ytr, yte = digit_halves_split
    split = Split("digits", Xtr[:300], Xte[:200], ytr[:300], yte[:200], "digits")
    res = evaluate(METHODS["labelspace"], split, "smoke")
    paths = save_curves([res], split, tmp_path / "figures")
    assert sorted(p.name for p in paths) == sorted([
        "digits_pr_left_to_right.png", "digits_pr_right_to_left.png",
        "digits_scope_left_to_right.png", "digits_scope_right_to_left.png",
    ])
    assert all(p.stat().st_size > 1000 for p in paths)


def test_every_exported_estimator_runs_in_smoke_mode(tmp_path):
    keys = [k for k, s in METHODS.items() if isinstance(s.estimator, str) and s.available()]
    if not keys:
        pytest.skip("no skcross estimator is exported yet")
    # One row per estimator class is enough here: the variants differ by parameters only.
    seen, chosen = set(), []
    for k in keys:
        if METHODS[k].estimator not in seen:
            seen.add(METHODS[k].estimator)
            chosen.append(k)
    results, failures = run([
        "--datasets", "digits", "--methods", ",".join(chosen), "--smoke",
        "--max-samples", "120", "--out", str(tmp_path), "--no-figures",
    ])
    assert failures == []
    assert sorted(r.key for r in results) == sorted(chosen)
    for r in results:
        assert 0.0 < r.mean_map() <= 1.0
        assert getattr(skcross, METHODS[r.key].estimator)


def test_full_budget_lets_early_stopping_decide_the_epochs():
    # a max_epochs below the estimator's own ceiling undertrained MinVIRBM (50 epochs)
    checked = []
    for key, spec in METHODS.items():
        if not (isinstance(spec.estimator, str) and spec.available()):
            continue
        est = spec.build("full", 0)
        default = type(est)().get_params()
        if default.get("early_stopping"):
            assert est.early_stopping, key
            assert est.max_epochs >= default["max_epochs"], key
            checked.append(spec.estimator)
    assert {"MinVIRBM", "SDML", "DSCMR", "CrossModalVAE"} <= set(checked)
    assert METHODS["minvi"].fixed("quick")["max_epochs"] == 5  # the quick budget stays quick


def test_reuse_assembles_a_run_from_cached_rows(tmp_path, monkeypatch):
    argv = ["--datasets", "digits", "--methods", "cca,labelspace", "--smoke", "--max-samples", "200",
            "--out", str(tmp_path), "--no-figures"]
    first, _ = run(argv)
    cached = sorted(p.name for p in (tmp_path / "_cache").glob("*.pkl"))
    assert len(cached) == 2 and all(n.startswith("digits_") for n in cached)

    calls = []
    real_evaluate = _runner.evaluate

    def counting_evaluate(spec, *args, **kwargs):
        calls.append(spec.key)
        return real_evaluate(spec, *args, **kwargs)

    monkeypatch.setattr(_runner, "evaluate", counting_evaluate)
    second, _ = run(argv + ["--reuse", "--refresh", "labelspace"])
    assert calls == ["labelspace"]  # cca came from the cache, labelspace was recomputed
    assert second[0].pair_maps == first[0].pair_maps
    assert second[0].computed_at == first[0].computed_at != ""
    md = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Rows reused from earlier runs" in md and "digits / CCA (sklearn)" in md

    # A different budget is a different row: nothing is reused across budgets.
    calls.clear()
    quick = ["--datasets", "digits", "--methods", "labelspace", "--quick", "--max-samples", "200",
             "--out", str(tmp_path), "--no-figures", "--reuse"]
    run(quick)
    assert calls == ["labelspace"]


def test_default_output_never_touches_committed_results(tmp_path, monkeypatch):
    """Run from a repository root with the default --out, a quick/smoke run writes to a
    scratch folder and leaves the committed benchmarks/RESULTS.md and CSVs alone."""
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "benchmarks"
    committed.mkdir()
    files = {name: f"committed {name}\n" for name in ("RESULTS.md", "results.csv", "results_pairs.csv")}
    for name, text in files.items():
        (committed / name).write_text(text, encoding="utf-8")
    results, failures = run(["--datasets", "digits", "--methods", "labelspace", "--smoke", "--max-samples", "150",
                             "--no-figures", "--no-progress"])
    assert failures == [] and len(results) == 1
    for name, text in files.items():
        assert (committed / name).read_text(encoding="utf-8") == text, f"{name} was overwritten"
    scratch = committed / "_out" / "smoke"
    assert "| digits |" in (scratch / "RESULTS.md").read_text(encoding="utf-8")
    assert (scratch / "results.csv").is_file()
    # Asking for the committed folder with a short budget is refused, not obeyed.
    with pytest.raises(SystemExit, match="cannot replace them"):
        run(["--datasets", "digits", "--methods", "labelspace", "--quick", "--update-results"])
    for name, text in files.items():
        assert (committed / name).read_text(encoding="utf-8") == text


def test_results_md_keeps_the_other_benchmarks_sections(tmp_path):
    """RESULTS.md is shared with bench_defaults.py, bench_scale.py, ...: a run rewrites
    only its own marked section, every time, and never what the other scripts wrote."""
    results_md = tmp_path / "RESULTS.md"
    others = "## Growth curves (bench_scale.py)\n\nkept\n\n<!-- bench_defaults:start -->\nkept too\n<!-- bench_defaults:end -->\n"
    argv = ["--datasets", "digits", "--methods", "labelspace", "--smoke", "--max-samples", "150",
            "--out", str(tmp_path), "--no-figures", "--no-progress"]
    # A file written before the runner had markers: its section goes on top, the rest stays.
    results_md.write_text(others, encoding="utf-8")
    run(argv)
    first = results_md.read_text(encoding="utf-8")
    assert first.startswith(_runner.SECTION_START + "\n# skcross benchmark results")
    assert first.endswith(_runner.SECTION_END + "\n\n" + others)
    assert first.count("\n| digits |") == 1
    # A second run replaces the section instead of adding another one.
    run(argv + ["--methods", "labelspace,cca"])
    second = results_md.read_text(encoding="utf-8")
    assert second.count(_runner.SECTION_START) == 1 and second.count("# skcross benchmark results") == 1
    assert second.count("\n| digits |") == 2 and second.endswith(others)
    with pytest.raises(ValueError, match="where must be"):
        _runner.replace_section(results_md, "x", "<a>", "</a>", where="middle")


def test_progress_bar_counts_every_fit(monkeypatch):
    """One bar per method and data set, labelled with both, advanced once per fit."""
    import tqdm.auto

    bars = []

    class RecordingBar(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    X, y = make_multimodal_classification(n_samples=120, n_modalities=2, n_features=[5, 4], random_state=0)
    split = Split("toy", X[:80], X[80:], y[:80], y[80:], "toy")
    evaluate(METHODS["labelspace"], split, "smoke", progress=True)
    assert len(bars) == 1
    assert bars[0].desc.startswith("toy / Label space")
    # smoke grid C in {0.1, 1} on one hold-out split: 2 fits, then the refit.
    assert (bars[0].n, bars[0].total) == (3, 3)
    bars.clear()
    evaluate(METHODS["labelspace"], split, "smoke")  # progress is off by default
    assert bars == []


@pytest.mark.parametrize("option, value, message", [
    ("--max-samples", "0", "--max-samples must be at least 20, got 0"),
    ("--max-samples", "ten", "--max-samples takes an integer"),
    ("--cv", "1", "--cv must be at least 2, got 1"),
])
def test_bad_option_values_are_named(option, value, message, capsys):
    with pytest.raises(SystemExit):
        run(["--datasets", "digits", "--methods", "labelspace", "--smoke", option, value])
    assert message in capsys.readouterr().err
