"""benchmarks/bench_defaults.py: every row present, errors kept in their cell, cache, RESULTS.md guard."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str, register: bool = False):
    """Import ``benchmarks/<name>.py`` as a module (``register``: also put it in ``sys.modules``)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    yield load_script("bench_defaults", register=True)  # its dataclasses look their module up
    sys.modules.pop("bench_defaults", None)


# Smoke settings (each estimator's _quick_test_params) on 100 + 100 samples of the easy synthetic set.
TINY = ["--datasets", "synthetic-easy", "--quick", "--max-samples", "100", "--smoke"]


def table_rows(md: str) -> dict[tuple[str, str], str]:
    rows = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0] not in ("data set", "---"):
            rows[(cells[0], cells[1])] = line
    return rows


def test_every_row_and_the_verdicts(bench, tmp_path, capsys):
    out = tmp_path / "defaults.md"
    assert bench.main([*TINY, "--cache", str(tmp_path / "cache"), "--out", str(out), "--verbose"]) == 0
    md = out.read_text(encoding="utf-8")
    rows = table_rows(md)
    context = ["Label space, probability", "Label space, T=0.5, probability"]
    expected = [*bench.ESTIMATORS, "CrossModalVAE, fit(X, y)", "Label space", "CCA", *context]
    assert sorted(rows) == sorted(("synthetic-easy", m) for m in expected)
    # the label space read out as SDML and DSCMR read theirs is shown for context and judged by no one
    for label in context:
        assert rows[("synthetic-easy", label)].endswith("| (context, not a bar) |")
    assert all("T=0.5" not in bench.BASELINES[k] for keys in bench.MUST_BEAT.values() for k in keys)
    for (_, method), line in rows.items():
        assert "error" not in line, line
        mean = float(line.split("**")[1])
        assert 0.0 < mean <= 1.0
        assert "0→1" in line and "1→0" in line  # two modalities: both directions shown
    # The easy set is easy for the label-space baseline.
    assert float(rows[("synthetic-easy", "Label space")].split("**")[1]) > 0.8
    # The summary says yes/no for every estimator; the verdict agrees with the numbers.
    parsed, _ = bench.run([*TINY, "--cache", str(tmp_path / "cache")])
    by = {r.method: r for r in parsed}
    for m in [*bench.ESTIMATORS, "CrossModalVAE, fit(X, y)"]:
        beats = all(by[m].mean_map() > by[bench.BASELINES[k]].mean_map() for k in bench.MUST_BEAT[m])
        assert bench.verdict(by[m], by).startswith("yes" if beats else "no")
    assert "beats its baselines on" in md
    # the VAE given labels is judged against CCA but kept out of the label-free summary
    assert bench.MUST_BEAT["CrossModalVAE, fit(X, y)"] == ("cca",)
    header = bench.summary_table(parsed).splitlines()[0]
    assert "CrossModalVAE" in header and "fit(X, y)" not in header
    assert "Smoke settings" in md
    # One JSON file per row; the second run read them all.
    assert len(list((tmp_path / "cache").glob("*.json"))) == len(expected)
    assert f"{len(expected)} of {len(expected)} rows from the cache" in capsys.readouterr().out


def test_a_failing_estimator_keeps_its_error_in_the_cell(bench, monkeypatch, tmp_path):
    real = bench.fit_estimator

    def broken(name, split, smoke=False, metric="cosine", overrides=None):
        if name == "DSCMR":
            raise RuntimeError("boom")
        return real(name, split, smoke, metric, overrides)

    monkeypatch.setattr(bench, "fit_estimator", broken)
    rows, md = bench.run([*TINY, "--methods", "DSCMR,SDML,cca"])
    assert bench.main([*TINY, "--methods", "DSCMR,cca"]) == 1
    line = table_rows(md)[("synthetic-easy", "DSCMR")]
    assert "error: RuntimeError: boom" in line
    assert not table_rows(md)[("synthetic-easy", "SDML")].count("error:")
    assert [r.method for r in rows] == ["DSCMR", "SDML", "CCA"]


def test_missing_data_is_skipped_with_its_reason(bench, tmp_path):
    rows, md = bench.run(["--datasets", "MSRC_v1,synthetic-easy", "--max-samples", "60", "--smoke",
                          "--methods", "cca", "--data-home", str(tmp_path)])
    assert [r.dataset for r in rows] == ["synthetic-easy"]
    assert "Skipped" in md and "MSRC_v1: FileNotFoundError" in md and "MSRC_v1.mat" in md


def test_results_md_is_only_touched_between_the_markers(bench, monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="write-results"):
        bench.run([*TINY, "--out", str(bench.RESULTS_MD)])
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# head\n\n{bench.START}\nold table\n{bench.END}\n\n## tail\n", encoding="utf-8")
    monkeypatch.setattr(bench, "RESULTS_MD", results)
    bench.run([*TINY, "--methods", "cca", "--write-results"])
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# head\n\n" + bench.START) and text.endswith(bench.END + "\n\n## tail\n")
    assert "old table" not in text and "| synthetic-easy | CCA |" in text
    # No markers yet: the section is appended, the rest is kept.
    results.write_text("# only this\n", encoding="utf-8")
    bench.replace_section(results, "new")
    assert results.read_text(encoding="utf-8") == f"# only this\n\n{bench.START}\nnew\n{bench.END}\n"


def test_bad_names_are_refused(bench):
    with pytest.raises(SystemExit, match="unknown data sets"):
        bench.run(["--datasets", "nope"])
    with pytest.raises(SystemExit, match="unknown methods"):
        bench.run(["--methods", "SVM"])
    with pytest.raises(ValueError, match="name must be one of"):
        bench.load_dataset("nope")


def test_set_overrides_a_parameter_and_keys_the_cache_by_it(bench, tmp_path):
    """``--set standardize=auto`` reaches every estimator that has the parameter,
    is named in the report and caches apart from the defaults' rows (CrossModalVAE
    defaults to True; for SDML, whose default is "auto", the override changes nothing)."""
    assert bench.parse_overrides(["standardize=auto", "max_epochs=5"]) == {"standardize": "auto", "max_epochs": 5}
    with pytest.raises(SystemExit, match="PARAM=VALUE"):
        bench.parse_overrides(["standardize"])
    assert bench.build_estimator("CrossModalVAE", overrides={"standardize": "auto", "nope": 1}).standardize == "auto"
    split = bench.load_dataset("synthetic-easy", max_samples=100)  # as TINY loads it
    plain = bench.cache_file(tmp_path, "CrossModalVAE", split, True, "cosine")
    auto = bench.cache_file(tmp_path, "CrossModalVAE", split, True, "cosine", {"standardize": "auto"})
    assert plain != auto
    # an override equal to the default is the default's row
    assert bench.cache_file(tmp_path, "SDML", split, True, "cosine", {"standardize": "auto"}) == bench.cache_file(
        tmp_path, "SDML", split, True, "cosine")
    out = tmp_path / "auto.md"
    methods = ["--methods", "CrossModalVAE,MinVIRBM"]
    assert bench.main([*TINY, *methods, "--set", "standardize=auto", "--cache", str(tmp_path), "--out", str(out)]) == 0
    assert "**Not the defaults: standardize='auto' set on every estimator" in out.read_text(encoding="utf-8")
    assert auto.exists() and not plain.exists()


@pytest.fixture(scope="module")
def spread(bench):
    return load_script("bench_seed_spread")


def test_seed_spread_verdicts(spread):
    assert spread.verdict([0.5, 0.6], 0.4) == "beats"
    assert spread.verdict([0.5, 0.6], 0.7) == "loses"
    assert spread.verdict([0.5, 0.6], 0.55) == "within the seed spread"
    assert spread.verdict([0.5, 0.6], 0.5) == "within the seed spread"  # equal to the worst seed: not beaten


def test_seed_spread_table(spread, capsys):
    args = ["--cells", "MinVIRBM@synthetic-easy,SDML@synthetic-easy", "--seeds", "2", "--smoke", "--max-samples", "100"]
    assert spread.main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| MinVIRBM") or line.startswith("| SDML")]
    # MinVIRBM must beat CCA; SDML the label-space baseline and CCA: one row per baseline.
    assert [r.split("|")[3].split()[0] for r in rows] == ["CCA", "Label", "CCA"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        mean, sd, lo, hi = map(float, cells[3:7])
        assert 0.0 < lo <= mean <= hi <= 1.0 and sd >= 0.0
        base = float(cells[2].split()[-1])
        assert cells[7] == spread.verdict([lo, hi], base)
    assert "smoke settings" in out


def test_seed_spread_takes_standin_draws(spread):
    """``standin:SHAPE:DRAW[:FEATURES]`` cells are bench_standins' draws, capped like the data sets."""
    standins = load_script("bench_standins")
    split = spread.load_split("standin:C700x17:2:simplex", max_samples=150)
    same = standins.standin_split("C700x17", 2, 150, "simplex")
    assert split.name == same.name == "C700x17-simplex#2"
    np.testing.assert_array_equal(split.y_test, same.y_test)
    np.testing.assert_array_equal(split.X_train.modality(1), same.X_train.modality(1))
    assert spread.load_split("synthetic-easy", max_samples=100).name == "synthetic-easy"


def test_validation_folds_table(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_validation_folds")
    module.main(["--methods", "DSCMR", "--datasets", "synthetic-easy:60", "--seeds", "0,1", "--smoke"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| DSCMR")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1:3] == ["synthetic-easy", "60"]
    hold_out, folds = (float(c.split()[0]) for c in cells[3:5])
    assert 0.0 < hold_out <= 1.0 and 0.0 < folds <= 1.0
    per_seed = [float(d) for d in cells[6].split(",")]
    assert len(per_seed) == 2 and float(cells[5]) == pytest.approx(sum(per_seed) / 2, abs=2e-3)


def test_validation_folds_table_many_class_synthetic(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_validation_folds")
    module.main(["--methods", "SDML", "--datasets", "synthetic-easy/6x200", "--seeds", "0",
                 "--folds", "2", "--smoke"])
    out = capsys.readouterr().out
    assert "validation_folds=2" in out
    rows = [line for line in out.splitlines() if line.startswith("| SDML")]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    # 70% of 200 samples is the training split, three quarters of it are fitted
    assert cells[1:3] == ["synthetic-easy/6x200", "105"]
    assert all(0.0 < float(c.split()[0]) <= 1.0 for c in cells[3:5])


def test_default_choices_mean_over_seeds(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_default_choices")
    tiny = "{'n_components': 8, 'hidden_layer_sizes': (8,), 'max_epochs': 2, 'early_stopping': False}"
    module.main(["--method", "SDML", "--datasets", "synthetic-easy", "--baseline", "none",
                 "--settings", tiny, "--seeds", "0,1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| synthetic-easy")]
    cell = [c.strip() for c in rows[0].strip("|").split("|")][1]
    mean = float(cell.split()[0])
    per_seed = [float(v) for v in cell.split("seeds ")[1].rstrip(")").split(" / ")]
    assert len(per_seed) == 2 and per_seed[0] != per_seed[1]
    assert mean == pytest.approx(sum(per_seed) / 2, abs=1e-4)


def test_default_choices_table_views(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_default_choices")
    sizes = {"wine-views": (178, 7, 6), "breast-cancer-views": (569, 15, 15), "iris-views": (150, 2, 2),
             "digits-top-bottom": (1797, 32, 32)}
    for name, (n, d0, d1) in sizes.items():
        X, y = module.training_split(name, None)
        assert X.n_modalities == 2 and X.shape[0] == len(y)
        assert [X.modality(c).shape[1] for c in range(2)] == [d0, d1]
        assert len(y) == n - int(np.ceil(0.3 * n))  # the training split only


def test_default_choices_standin_training_split(monkeypatch):
    """``standin:SHAPE:DRAW[:FEATURES]`` is bench_standins' training split of that draw, skewed as asked."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_default_choices")
    standins = load_script("bench_standins")
    X, y = module.training_split("standin:C700x17:1", None)
    split = standins.standin_split("C700x17", 1)
    np.testing.assert_array_equal(y, split.y_train)
    np.testing.assert_array_equal(X.modality(2), split.X_train.modality(2))
    X_skewed, _ = module.training_split("standin:C700x17:1:lognormal", None)
    np.testing.assert_allclose(X_skewed.modality(2), np.exp(1.5 * split.X_train.modality(2)))


@pytest.fixture(scope="module")
def standins(bench):
    return load_script("bench_standins")


def test_standins_draws_differ_and_keep_their_shape(standins):
    a, b = standins.standin_split("C700x17", 0, 150), standins.standin_split("C700x17", 1, 150)
    assert [A.shape[1] for A in a.X_train.modalities()] == [700, 300, 100]
    assert len(np.unique(a.y_train)) == 17
    assert not np.allclose(a.X_train.modalities()[0], b.X_train.modalities()[0])


def test_standins_table_counts_wins_per_draw(standins, capsys, tmp_path):
    args = ["--draws", "0,1", "--shapes", "C700x17", "--methods", "MinVIRBM,DSCMR,CrossModalVAE+y", "--smoke",
            "--max-samples", "150",
            "--cache", str(tmp_path)]
    assert standins.main(args) == 0
    out = capsys.readouterr().out
    per_draw = {line.split(":")[0]: line for line in out.splitlines() if line.startswith("C700x17#")}
    assert sorted(per_draw) == ["C700x17#0", "C700x17#1"]
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| C700x17"):
            rows[cells[1]] = cells
    context = ["Label space, T=0.5, probability", "Label space, probability"]
    labelled = "CrossModalVAE, fit(X, y)"  # the VAE given the labels: its own row, judged against CCA
    assert sorted(rows) == sorted(["CCA", "DSCMR", "Label space", *context, "MinVIRBM", labelled])
    assert all(rows[label][4] == "(context, not a bar)" for label in context)
    values = {m: [float(v) for v in cells[3].split(" / ")] for m, cells in rows.items()}
    for method, must_beat in (("MinVIRBM", ["CCA"]), ("DSCMR", ["CCA", "Label space"]), (labelled, ["CCA"])):
        assert abs(float(rows[method][2]) - np.mean(values[method])) < 1e-3
        wins = sum(all(v > values[b][i] for b in must_beat) for i, v in enumerate(values[method]))
        assert rows[method][4] == f"{wins} of 2 draws"
    assert "smoke run, not the defaults" in out
    # one cached row per (draw, method); a rerun reads them and prints the same table
    assert len(list(tmp_path.glob("*.json"))) == 2 * 7
    assert standins.main(args) == 0
    table = [line for line in out.splitlines() if line.startswith("| C700x17")]
    rerun = capsys.readouterr().out
    assert [line for line in rerun.splitlines() if line.startswith("| C700x17")] == table
    assert "14 of 14 rows from the cache" in rerun


def test_default_choices_readouts_and_pick_by(capsys, monkeypatch):
    """--readouts scores each fit once per read-out; --pick-by scores, per seed,
    the setting whose fitted label-free score is highest."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = load_script("bench_default_choices")
    tiny = {"n_components": 4, "hidden_layer_sizes": (8,), "translation_hidden_sizes": (8,), "max_epochs": 3}
    settings = ";".join(repr({**tiny, "beta": b}) for b in (0.25, 1.0))
    module.main(["--method", "CrossModalVAE", "--datasets", "synthetic-easy", "--baseline", "none",
                 "--settings", settings, "--seeds", "0,1", "--pick-by", "target_scores_",
                 "--readouts", "{'center_embeddings': False};{'center_embeddings': True}"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].count("read {'center_embeddings'") == 4 and out[0].rstrip(" |").endswith("target_scores_")
    cells = [c.strip() for c in next(l for l in out if l.startswith("| synthetic-easy")).strip("|").split("|")][1:]
    assert len(cells) == 5  # 2 settings x 2 read-outs, then the pick
    per_seed = [[float(v) for v in c.split("seeds ")[1].rstrip(")").split(" / ")] for c in cells[:4]]
    assert per_seed[0] != per_seed[1]  # the read-outs differ on the same fits
    picked_settings = cells[4].split("(settings ")[1].rstrip(")").split(" / ")
    assert len(picked_settings) == 2
    # Per seed, the pick is the first read-out of one of the two settings.
    expected = [per_seed[0 if "0.25" in s else 2][k] for k, s in enumerate(picked_settings)]
    assert float(cells[4].split()[0]) == pytest.approx(np.mean(expected), abs=1e-4)


def test_standins_skewed_features(standins):
    """--features presents the same draw made skewed: exp(1.5 x), or a softmax per view."""
    plain = standins.standin_split("C700x17", 0, max_samples=100)
    lognormal = standins.standin_split("C700x17", 0, max_samples=100, features="lognormal")
    simplex = standins.standin_split("C700x17", 0, max_samples=100, features="simplex")
    assert len({plain.name, lognormal.name, simplex.name}) == 3  # cached apart
    np.testing.assert_allclose(lognormal.X_train.modality(0), np.exp(1.5 * plain.X_train.modality(0)))
    S = simplex.X_train.modality(1)
    assert np.all(S > 0)
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    with pytest.raises(SystemExit, match="drop --features"):
        standins.run(["--features", "simplex", "--write-results"])
