"""The day-to-day commands end to end on the demo data: train, evaluate, search, submit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    config = out / "tiny.toml"
    config.write_text(
        f'name = "tiny"\n[data]\nroot = "{DEMO}"\n[image]\ncode_dim = 32\nepochs = 3\n'
        '[[mappers]]\nkind = "neural"\nparams = {init = "random", hidden = [64], epochs = 20, learning_rate = 0.001}\n'
        '[[mappers]]\nkind = "reverse_ridge"\n[tags]\nenabled = true\n[fusion]\nselect = "holdout"\n'
    )
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    return out


def test_train_without_a_config_uses_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--root", str(DEMO), "--out", str(tmp_path), "--full"]) == 0
    assert "using the default config" in capsys.readouterr().err
    from retrieval.config import RunConfig
    from retrieval.core import load_bundle

    model, gallery = load_bundle(tmp_path / "bundle")
    assert model.config.mappers == RunConfig().mappers and len(gallery) == 561


def test_train_writes_bundle_metrics_and_history(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (run_dir / "bundle" / "manifest.json").is_file()
    assert (run_dir / "metrics.json").is_file() and (run_dir / "history.json").is_file()
    from retrieval.core import load_bundle

    _, gallery = load_bundle(run_dir / "bundle")
    assert len(gallery) == 561  # trained on 449, searching the 112 held out of training too


def test_evaluate_prints_both_map_forms_and_gallery_size(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--bundle", str(run_dir / "bundle"), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "140-image gallery" in out
    assert "MAP@20 (1/r, Kaggle)" in out and "MAP@20 (linear" in out


def test_search_prints_score_tab_path(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "a red apple", "--bundle", str(run_dir / "bundle"), "--k", "4"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    scores = [float(line.split("\t")[0]) for line in lines]
    assert scores == sorted(scores, reverse=True)
    assert all(Path(line.split("\t")[1]).is_file() for line in lines)
    assert (
        main(
            [
                "search",
                "a red apple",
                "--bundle",
                str(run_dir / "bundle"),
                "--k",
                "2",
                "--paths-only",
            ]
        )
        == 0
    )
    assert [Path(p).is_file() for p in capsys.readouterr().out.split()] == [True, True]


def test_search_by_example_image_finds_itself(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(run_dir / "bundle")
    first = main(["search", "a dog", "--bundle", bundle, "--k", "1", "--paths-only"])
    image = capsys.readouterr().out.strip()
    assert first == 0
    assert (
        main(
            [
                "search",
                "--image",
                image,
                "--bundle",
                bundle,
                "--k",
                "1",
                "--paths-only",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == image


def test_interactive_search_until_exit(run_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "retrieval",
            "search",
            "--bundle",
            str(run_dir / "bundle"),
            "--k",
            "2",
        ],
        input="a red apple\n\na house\nexit\nnever read\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [(r[0], r[1]) for r in rows] == [
        ("a red apple", "1"),
        ("a red apple", "2"),
        ("a house", "1"),
        ("a house", "2"),
    ]
    assert all(Path(r[3]).is_file() and float(r[2]) for r in rows)
    # the start-up notes of TensorFlow's native runtime never reach the user
    assert "I0000" not in result.stderr and "absl" not in result.stderr


def test_a_query_the_model_cannot_place_gets_no_results_and_says_why(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(run_dir / "bundle")
    for nonsense in ("xqzzt blorf", "\U0001f34e\U0001f34e"):  # unknown words, emoji
        assert main(["search", nonsense, "--bundle", bundle, "--k", "2"]) == 1
        captured = capsys.readouterr()
        assert f"no results: no word of {nonsense!r} is known to the model" in captured.err
        assert captured.out == ""  # no scores that would say nothing about the query
    # a query of function words only: named as stop words, not as unknown
    assert main(["search", "of the", "--bundle", bundle, "--k", "2"]) == 1
    err = capsys.readouterr().err
    assert "every word of 'of the' is a stop word (of, the)" in err and "known" not in err
    # "fire", which scikit-learn's English list drops, is a word the model knows
    assert main(["search", "fire", "--bundle", bundle, "--k", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # a query with one known word is searched, with its scale said in --help
    assert main(["search", "a red xqzzt", "--bundle", bundle, "--k", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def _paths(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.split()


def test_a_combined_query_adds_and_subtracts_texts_and_images(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = ["--bundle", str(run_dir / "bundle"), "--paths-only", "--k", "561"]
    assert main(["search", "a red apple", *bundle]) == 0
    apple = _paths(capsys)
    example = apple[0]
    # an image term far outweighing the text: the example picture itself comes first
    assert main(["search", "a red apple", "--add", example, "--add", example, *bundle]) == 0
    assert _paths(capsys)[0] == example
    # the text with its best picture subtracted: that picture sinks out of the top
    assert main(["search", "a red apple", "--subtract", example, *bundle]) == 0
    without = _paths(capsys)
    assert sorted(without) == sorted(apple) and without.index(example) > apple.index(example)
    # a text and --image together are one query of two terms, scored as sums of z-scores
    assert main(["search", "a red apple", "--image", example, "--k", "3", *bundle[:2]]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert rows[0][1] == example and float(rows[0][0]) > float(rows[2][0]) > 0


def test_submit_writes_a_valid_scored_file(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_dir / "submission.csv"
    assert (
        main(
            ["submit", "--bundle", str(run_dir / "bundle"), "--root", str(DEMO), "--out", str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "140 rows, valid" in printed and "140-image gallery" in printed
    assert out.read_text().startswith("Descritpion_ID,Top_20_Image_IDs\n0.txt,")


def test_submit_uploads_through_the_kaggle_client(
    run_dir: Path, kaggle_server, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    out = run_dir / "uploaded.csv"
    argv = ["submit", "--bundle", str(run_dir / "bundle"), "--root", str(DEMO), "--out", str(out)]
    argv += ["--upload", "--competition", "cs5785-demo", "--message", "tiny demo run"]
    assert main(argv) == 0
    assert "uploaded to cs5785-demo: Successfully submitted (ref 1001)" in capsys.readouterr().out
    assert kaggle_server.uploads["blob-1"] == out.read_bytes()
    assert kaggle_server.submissions[0]["submissionDescription"] == "tiny demo run"


def test_errors_are_one_line_with_non_zero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "x", "--bundle", str(tmp_path)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"retrieval search: error: {tmp_path}: not a stored retrieval.bundle (no manifest.json)"
    )
    assert main(["train", "--config", str(tmp_path / "none.toml")]) == 1
    assert "config file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--k"])
    assert exit_info.value.code == 2


def test_every_subcommand_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    from retrieval.cli import COMMANDS

    for command in COMMANDS:
        name = command.__name__.rsplit("cmd_", 1)[1]
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "example" in capsys.readouterr().out


def test_report_of_a_bundle_is_self_contained(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_dir / "report"
    assert main(["report", "--bundle", str(run_dir / "bundle"), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "MAP@20" in html and "PCA" in html
    assert 'src="http' not in html and "src='http" not in html
    assert "112" in (out / "report.md").read_text()  # the held-out gallery size
    assert (out / "report.md").read_text().startswith("# Retrieval report: the held-out part")


def test_serve_on_a_busy_port_fails_in_one_line_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        missing = str(tmp_path / "no-bundle")
        assert main(["serve", "--bundle", missing, "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err


def test_features_of_nothing_readable_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    out = tmp_path / "f.npy"
    assert (
        main(["features", str(tmp_path / "nonexist.jpg"), "--out", str(out), "--weights", "none"])
        == 1
    )
    err = capsys.readouterr().err
    assert "none of the 1 pictures could be read" in err and "nonexist.jpg" in err
    assert f"cache: {tmp_path / 'cache-home' / 'retrieval' / 'features'} (the default" in err


def test_features_to_a_file_write_the_rows_and_their_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import numpy as np

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    pictures = [str(DEMO / "images_train" / f"{i}.jpg") for i in (0, 1)]
    (tmp_path / "bad.jpg").write_text("not a picture")
    out = tmp_path / "f.npy"
    args = ["features", *pictures, str(tmp_path / "bad.jpg"), "--out", str(out)]
    assert main([*args, "--model", "efficientnet_lite0", "--fc1000"]) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["paths"] == pictures and manifest["features"]["model"] == "efficientnet_lite0"
    assert [s["path"] for s in manifest["skipped"]] == [str(tmp_path / "bad.jpg")]
    assert np.load(out).shape == (2, 1280)
    assert np.load(out.with_suffix(".fc1000.npy")).shape == (2, 1000)


def test_train_on_a_captions_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    import csv

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    table = tmp_path / "captions.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption", "tags"])
        for i in range(24):
            caption = (DEMO / "descriptions_train" / f"{i}.txt").read_text().strip()
            tags = "|".join((DEMO / "tags_train" / f"{i}.txt").read_text().split("\n")).strip("|")
            writer.writerow([str(DEMO / "images_train" / f"{i}.jpg"), caption, tags])
        writer.writerow([str(tmp_path / "missing.jpg"), "a picture that is not there", ""])
    out = tmp_path / "run"
    args = ["train", "--captions", str(table), "--weights", "none", "--out", str(out)]
    assert main([*args, "--config", str(REPO / "configs" / "peers" / "ridge.toml")]) == 0
    captured = capsys.readouterr()
    assert "extracting features of" in captured.err and "bundle:" in captured.out
    from retrieval.core import load_bundle

    model, gallery = load_bundle(out / "bundle")
    assert model.feature_record["weights"] == "random" and len(gallery) == 24  # held-out ones too


def test_the_demo_keeps_feature_csvs_that_are_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the ResNet CSVs are required: CLIP features are made on request, so their absence
    must not make every demo run extract (and rewrite) the shipped ResNet features."""
    import shutil

    from retrieval.workflows import ensure_features

    demo = Path(__file__).resolve().parents[2] / "data" / "demo"
    for split in ("train", "test"):
        shutil.copytree(demo / f"features_{split}", tmp_path / f"features_{split}")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.csv")}
    ensure_features(tmp_path)
    assert "extracting" not in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.csv")} == before
    assert not list(tmp_path.rglob("features_clip_*"))


@pytest.mark.slow
def test_a_search_inside_a_folder_the_library_lacks_indexes_it_first(
    tmp_path: Path,
) -> None:
    """As rclip does: ``retrieval search`` in a folder of pictures the per-user library does
    not cover indexes it first (one line says so), then searches; the next search there, or
    one with ``--no-index``, does not index again."""
    import shutil

    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle
    from retrieval.data import load_competition

    config = RunConfig.from_toml(REPO / "configs" / "peers" / "ridge.toml")
    config.tags.enabled = False
    train = load_competition(DEMO, "train")
    model = Trainer(config).fit(train)
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    first, trip = tmp_path / "first", tmp_path / "trip"
    for folder, names in [(first, ["0.jpg", "1.jpg"]), (trip, ["340.jpg", "87.jpg", "5.jpg"])]:
        folder.mkdir()
        for name in names:
            shutil.copy(DEMO / "images_train" / name, folder / name)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}

    def retrieval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "retrieval", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    made = retrieval("index", str(first), "--bundle", str(bundle), cwd=tmp_path)
    assert made.returncode == 0, made.stderr[-2000:]
    skipped = retrieval("search", "a red apple", "--paths-only", "--no-index", cwd=trip)
    assert skipped.returncode == 0 and "indexing" not in skipped.stderr
    assert len(skipped.stdout.split()) == 2  # the first folder's pictures only
    found = retrieval("search", "a red apple", "--paths-only", cwd=trip)
    assert found.returncode == 0, found.stderr[-2000:]
    assert f"indexing {trip.resolve()} into the library first" in found.stderr
    assert found.stdout.split()[0] == "340.jpg"  # the red apple, shown relative to the folder
    assert len(found.stdout.split()) == 5
    again = retrieval("search", "a red apple", "--paths-only", cwd=trip / ".")
    assert again.returncode == 0 and "indexing" not in again.stderr
    assert again.stdout == found.stdout


def test_train_on_a_captions_table_takes_features_from_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Pictures in the shards are not extracted again; the bundle records the shards' network."""
    import csv

    import retrieval.features

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    pictures = [DEMO / "images_train" / f"{i}.jpg" for i in range(24)]
    shards = tmp_path / "shards"
    made = ["features", *map(str, pictures[:16]), "--shards", str(shards), "--shard-size", "8"]
    assert main([*made, "--model", "efficientnet_lite0", "--no-cache"]) == 0
    table = tmp_path / "captions.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for i, picture in enumerate(pictures):
            writer.writerow([str(picture), (DEMO / "descriptions_train" / f"{i}.txt").read_text()])
    asked: list[int] = []
    extract = retrieval.features.extract_features

    def counting(paths, **kwargs):
        asked.append(len(paths))
        return extract(paths, **kwargs)

    monkeypatch.setattr(retrieval.features, "extract_features", counting)
    out = tmp_path / "run"
    args = ["train", "--captions", str(table), "--shards", str(shards), "--out", str(out)]
    assert main([*args, "--config", str(REPO / "configs" / "peers" / "ridge.toml")]) == 0
    assert asked == [8]  # only the pictures the shards lack
    from retrieval.core import load_bundle

    model, gallery = load_bundle(out / "bundle")
    assert model.feature_record["model"] == "efficientnet_lite0" and len(gallery) == 24
    capsys.readouterr()
