"""The real kaggle client driven against the local stand-in server (127.0.0.1:7777)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.cli import main
from retrieval.data import load_competition
from retrieval.errors import DataFormatError
from retrieval.kaggle_client import MANIFEST, KaggleError, download, submit
from tests.kaggle_standin import KaggleStandIn, zip_bytes

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
HEADER = "Descritpion_ID,Top_20_Image_IDs\n"


def demo_archive(parts: tuple[str, ...] = ("test",)) -> bytes:
    """The demo's files for ``parts``, packed the way Kaggle serves a competition: one zip
    whose members are themselves zips of each folder."""
    members: dict[str, bytes] = {}
    for part in parts:
        for folder in (f"descriptions_{part}", f"images_{part}", f"tags_{part}"):
            inner = {
                f"{folder}/{path.name}": path.read_bytes()
                for path in sorted((DEMO / folder).iterdir())
            }
            members[f"{folder}.zip"] = zip_bytes(inner)
        for path in sorted(DEMO.glob(f"features_{part}/*.csv")):
            members[f"features_{part}/{path.name}"] = path.read_bytes()
    return zip_bytes(members)


def write_submission_file(path: Path, rows: int = 2) -> Path:
    lines = [f"{i}.txt," + " ".join(f"{(i + j) % 40}.jpg" for j in range(20)) for i in range(rows)]
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def test_download_unzips_nested_archives_into_a_loadable_layout(
    kaggle_server: KaggleStandIn, tmp_path: Path
) -> None:
    kaggle_server.archives["cs5785-demo"] = demo_archive()
    result = download("cs5785-demo", tmp_path / "data" / "cs5785-demo")
    assert result.fetched and result.path == tmp_path / "data" / "cs5785-demo"
    assert not list(result.path.rglob("*.zip"))
    test = load_competition(result.path, "test")
    assert len(test.ids) == 140
    assert ("POST", "/api/v1/competitions.CompetitionApiService/DownloadDataFiles") in [
        r[:2] for r in kaggle_server.requests
    ]
    assert kaggle_server.requests[0][2] == {"competitionName": "cs5785-demo"}
    assert not (tmp_path / "data" / ".cs5785-demo.download").exists()


def test_download_is_idempotent_until_a_file_goes_missing(
    kaggle_server: KaggleStandIn, tmp_path: Path
) -> None:
    kaggle_server.archives["tiny"] = zip_bytes({"a.txt": b"alpha", "sub/b.txt": b"beta"})
    first = download("tiny", tmp_path / "tiny")
    assert first.files == ("a.txt", "sub/b.txt")
    assert (tmp_path / "tiny" / MANIFEST).is_file()
    calls = len(kaggle_server.requests)
    second = download("tiny", tmp_path / "tiny")
    assert not second.fetched and len(kaggle_server.requests) == calls
    (tmp_path / "tiny" / "sub" / "b.txt").unlink()
    third = download("tiny", tmp_path / "tiny")
    assert third.fetched and (tmp_path / "tiny" / "sub" / "b.txt").read_bytes() == b"beta"
    assert download("tiny", tmp_path / "tiny", force=True).fetched


def test_submit_uploads_the_file_and_its_message(
    kaggle_server: KaggleStandIn, tmp_path: Path
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    file = write_submission_file(tmp_path / "submission.csv")
    receipt = submit("cs5785-demo", file, "tfidf + triplet")
    assert receipt.ref == 1001 and "Successfully" in receipt.message
    start = next(r for r in kaggle_server.requests if r[1].endswith("StartSubmissionUpload"))[2]
    assert start["fileName"] == "submission.csv"
    assert start["contentLength"] == file.stat().st_size
    assert kaggle_server.uploads["blob-1"] == file.read_bytes()
    assert kaggle_server.submissions == [
        {
            "competitionName": "cs5785-demo",
            "blobFileTokens": "blob-1",
            "submissionDescription": "tfidf + triplet",
        }
    ]


def test_a_malformed_submission_is_refused_before_any_request(
    kaggle_server: KaggleStandIn, tmp_path: Path
) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    file = tmp_path / "bad.csv"
    file.write_text("Description_ID,Top_20_Image_IDs\n0.txt,1.jpg\n")
    with pytest.raises(DataFormatError, match="bad.csv"):
        submit("cs5785-demo", file, "x")
    assert kaggle_server.requests == []


def test_a_failed_upload_is_an_error(kaggle_server: KaggleStandIn, tmp_path: Path) -> None:
    kaggle_server.archives["cs5785-demo"] = b""
    kaggle_server.fail_uploads = True
    with pytest.raises(KaggleError, match="did not complete"):
        submit("cs5785-demo", write_submission_file(tmp_path / "s.csv"), "x")
    assert kaggle_server.submissions == []


def test_wrong_key_and_unknown_competition_give_clear_errors(
    kaggle_server: KaggleStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KaggleError, match=r"competition 'nope' not found .*HTTP 404"):
        download("nope", tmp_path / "nope")
    monkeypatch.setenv("KAGGLE_KEY", "wrong")
    kaggle_server.archives["cs5785-demo"] = b""
    with pytest.raises(KaggleError, match="refused the credentials.*HTTP 401"):
        submit("cs5785-demo", write_submission_file(tmp_path / "s.csv"), "x")
    assert not (tmp_path / "nope").exists()


def test_no_credentials_is_one_clear_error(
    kaggle_env: KaggleStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    with pytest.raises(KaggleError, match="no Kaggle credentials found: put kaggle.json"):
        download("cs5785-demo", tmp_path / "x")


def test_no_server_means_cannot_reach(kaggle_env: KaggleStandIn, tmp_path: Path) -> None:
    with pytest.raises(
        KaggleError, match="cannot reach Kaggle at http://localhost:7777 to download"
    ):
        download("cs5785-demo", tmp_path / "x")


def test_cli_download_and_its_errors(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kaggle_server.archives["tiny"] = zip_bytes({"a.txt": b"alpha"})
    dest = tmp_path / "tiny"
    assert main(["download", "--competition", "tiny", "--dest", str(dest)]) == 0
    assert capsys.readouterr().out.strip() == f"{dest} (1 file, downloaded)"
    assert main(["download", "--competition", "tiny", "--dest", str(dest)]) == 0
    assert capsys.readouterr().out.strip() == f"{dest} (1 file, already there)"
    assert main(["download", "--competition", "nope", "--dest", str(tmp_path / "n")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("retrieval download: error: competition 'nope' not found")
    assert "\n" not in err


def test_submissions_are_listed_newest_first_with_scores(
    kaggle_server: KaggleStandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from retrieval.kaggle_client import submissions

    kaggle_server.archives["cs5785-demo"] = b""
    file = write_submission_file(tmp_path / "submission.csv")
    submit("cs5785-demo", file, "first: ridge")
    submit("cs5785-demo", file, "second: default")
    records = submissions("cs5785-demo")
    assert [r.description for r in records] == ["second: default", "first: ridge"]
    assert [r.status for r in records] == ["pending", "complete"]
    assert records[1].public_score == "0.31250" and records[1].private_score == "0.30125"
    assert main(["submissions", "--competition", "cs5785-demo"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0] == "date\tfile\tstatus\tpublic\tprivate\tdescription"
    assert lines[2].split("\t")[2:] == ["complete", "0.31250", "0.30125", "first: ridge"]
    assert main(["submissions", "--competition", "no-such-thing"]) == 1
    assert "no-such-thing" in capsys.readouterr().err
