"""`retrieval validate`, `retrieval score` and `retrieval submit --file` on hand-made files,
end to end through the command line (uploads go to the local Kaggle stand-in)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from retrieval.cli import main
from tests.kaggle_standin import KaggleStandIn

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
SAMPLE = DEMO / "sample_submission.csv"
ANSWERS = DEMO / "answers_test.csv"
HEADER = "Descritpion_ID,Top_20_Image_IDs"


def hand_made(path: Path, first_image: str = "0.jpg", rows: int = 140) -> Path:
    """A submission of ``rows`` rows; row 0 starts with ``first_image``."""
    lines = [HEADER]
    for d in range(rows):
        ids = [f"{(d + j) % 140}.jpg" for j in range(20)]
        if d == 0:
            ids[0] = first_image
        lines.append(f"{d}.txt," + " ".join(ids))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_a_good_file_with_and_without_the_test_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(SAMPLE)]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"{SAMPLE}: 140 rows, valid"
    assert "--root ROOT checks them" in out.err
    assert main(["validate", str(SAMPLE), "--root", str(DEMO)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{SAMPLE}: 140 rows, valid against {DEMO}'s test part (140 descriptions, 140 images)"
    )


def test_validate_lists_every_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = hand_made(tmp_path / "s.csv", first_image="+6.jpg")
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{bad}:2: image ids must look like '<id>.jpg' with <id> in ASCII digits, found '+6.jpg'"
    ]
    assert out.err.strip() == f"retrieval validate: {bad}: invalid, 1 problems"
    unknown = hand_made(tmp_path / "u.csv", first_image="140.jpg")  # the demo has 0..139
    assert main(["validate", str(unknown)]) == 0
    capsys.readouterr()
    assert main(["validate", str(unknown), "--root", str(DEMO)]) == 1
    assert f"{unknown}:2: unknown image ids ['140.jpg']" in capsys.readouterr().out


def test_score_prints_both_map_forms_and_the_gallery(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(SAMPLE), str(ANSWERS)]) == 0
    out = capsys.readouterr().out.strip()
    assert "MAP@20 (1/r, Kaggle) 0.0190" in out and "MAP@20 (linear" in out
    assert out.endswith("140 descriptions, 140-image gallery")
    assert main(["score", str(SAMPLE), str(ANSWERS), "--root", str(DEMO)]) == 0
    assert capsys.readouterr().out.strip() == out


def test_score_refuses_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = hand_made(tmp_path / "s.csv", first_image="\uff16.jpg")  # a full-width six
    assert main(["score", str(bad), str(ANSWERS)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"{bad}:2: image ids must look like '<id>.jpg'")
    assert err[-1] == f"retrieval score: error: {bad}: 1 problems; not scored"
    assert main(["score", str(SAMPLE), str(tmp_path / "none.csv")]) == 1
    assert "answer file not found" in capsys.readouterr().err


def test_submit_file_validates_scores_and_uploads_without_a_model(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    file = hand_made(tmp_path / "mine.csv")
    argv = ["submit", "--file", str(file), "--root", str(DEMO), "--competition", "cs5785-demo"]
    assert main([*argv, "--message", "made by hand"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == (
        f"submission: {file} (140 rows, valid against {DEMO}'s test part: "
        "140 descriptions, 140 images)"
    )
    assert "MAP@20 (1/r, Kaggle)" in lines[1] and "140-image gallery" in lines[1]
    assert lines[2] == "uploaded to cs5785-demo: Successfully submitted (ref 1001)"
    assert kaggle_server.uploads["blob-1"] == file.read_bytes()
    assert kaggle_server.submissions[0]["submissionDescription"] == "made by hand"


def test_submit_file_without_root_checks_the_format(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    file = hand_made(tmp_path / "mine.csv", rows=3)
    argv = ["submit", "--file", str(file), "--competition", "cs5785-demo", "--message", "x"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == f"submission: {file} (3 rows, valid)"
    assert "--root ROOT checks them" in out.err
    assert len(kaggle_server.submissions) == 1


def test_an_upload_without_a_message_is_one_line_and_sends_nothing(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    file = hand_made(tmp_path / "mine.csv")
    for argv in (
        ["submit", "--file", str(file), "--competition", "cs5785-demo"],
        ["submit", "--file", str(file), "--message", "  "],
        # checked before the bundle is even opened
        ["submit", "--bundle", str(tmp_path / "no-bundle"), "--upload"],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "needs --message: describe the submission" in err
        assert err.startswith("retrieval submit: error: ")
    assert kaggle_server.requests == []


def test_submit_file_refuses_an_invalid_file_before_any_request(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    for first_image in ("-1.jpg", "1e2.jpg", "\u0666.jpg"):
        file = hand_made(tmp_path / "bad.csv", first_image=first_image)
        argv = ["submit", "--file", str(file), "--message", "m", "--competition", "cs5785-demo"]
        assert main(argv) == 1
        assert f"{file}:2: image ids must look like" in capsys.readouterr().err
    unknown = hand_made(tmp_path / "unknown.csv", first_image="140.jpg")
    assert main([*argv[:2], str(unknown), *argv[3:], "--root", str(DEMO)]) == 1
    assert "unknown image ids ['140.jpg']" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "x.csv")]) == 1
    assert "--file sends FILE as it is" in capsys.readouterr().err
    assert kaggle_server.requests == []


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick ridge bundle of the demo's train part."""
    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle
    from retrieval.data import load_competition

    config = RunConfig.from_dict(
        {
            "data": {"root": str(DEMO)},
            "image": {"use_autoencoder": False, "whiten": False},
            "tags": {"enabled": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = load_competition(DEMO, "train")
        model = Trainer(config).fit(train)
    return save_bundle(
        tmp_path_factory.mktemp("run") / "bundle", model, model.gallery_from_dataset(train)
    )


def copy_demo_test(root: Path) -> Path:
    for folder in ("descriptions_test", "tags_test", "images_test", "features_test"):
        shutil.copytree(DEMO / folder, root / folder)
    return root


def test_submit_names_only_images_that_exist(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_demo_test(tmp_path / "comp")
    for csv in sorted((root / "features_test").glob("*.csv")):
        width = csv.read_text().split("\n", 1)[0].count(",")
        with csv.open("a") as handle:
            handle.writelines(
                f"images_test/{i}.jpg," + ",".join(["0.5"] * width) + "\n" for i in range(140, 400)
            )
    out = tmp_path / "s.csv"
    argv = ["submit", "--bundle", str(bundle), "--root", str(root), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == f"submission: {out} (140 rows, valid)"
    warned = [line for line in printed.err.splitlines() if "rows name an image" in line]
    assert len(warned) == 1 and warned[0].startswith(
        f"warning: {root / 'features_test'}/features_resnet1000intermediate_test.csv: "
        "260 of 400 rows name an image that is not in images_test/"
    )
    assert main(["validate", str(out), "--root", str(root)]) == 0
    named = {t for line in out.read_text().splitlines()[1:] for t in line.split(",")[1].split()}
    assert all((root / "images_test" / name).is_file() for name in named)


def test_submit_refuses_a_test_id_kaggle_cannot_take_naming_its_file(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_demo_test(tmp_path / "comp")
    (root / "images_test" / "5.jpg").rename(root / "images_test" / "abc.jpg")
    (root / "tags_test" / "5.txt").rename(root / "tags_test" / "abc.txt")
    for csv in (root / "features_test").glob("*.csv"):
        csv.write_text(csv.read_text().replace("images_test/5.jpg,", "images_test/abc.jpg,"))
    out = tmp_path / "s.csv"
    assert main(["submit", "--bundle", str(bundle), "--root", str(root), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"retrieval submit: error: {root / 'images_test' / 'abc.jpg'}: image id 'abc' is not "
        "Kaggle's (ASCII digits, written '<id>.jpg'), so no submission can name it"
    )
    assert not out.exists()
