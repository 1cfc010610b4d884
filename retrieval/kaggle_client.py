"""Competition download and submission through the official ``kaggle`` client.

``kaggle`` authenticates as soon as it is imported, so it is imported only inside the
functions here. Every failure the service can cause (no credentials, no network, a refused
request, a broken archive) becomes one :class:`KaggleError` whose message says what to do.

The endpoint follows ``KAGGLE_API_ENVIRONMENT`` as ``kagglesdk`` reads it (unset means
the real service; ``TEST`` means ``http://localhost:7777``, a local stand-in server).

Examples
--------
>>> folder = download("cs5785-fall19-final")  # doctest: +SKIP
>>> folder.path  # doctest: +SKIP
PosixPath('data/cs5785-fall19-final')
>>> submit("cs5785-fall19-final", "submission.csv", "tfidf + triplet").ref  # doctest: +SKIP
123456
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import RetrievalError
from retrieval.fileio import atomic_directory

DEFAULT_COMPETITION = "cs5785-fall19-final"
MANIFEST = ".kaggle-download.json"
CREDENTIALS_HELP = (
    "put kaggle.json (from kaggle.com > Settings > API) in ~/.kaggle or $KAGGLE_CONFIG_DIR, "
    "or set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN"
)


class KaggleError(RetrievalError):
    """Kaggle could not be used: missing credentials, no network, or a refused request."""


@dataclass(frozen=True)
class DownloadedCompetition:
    """Where a competition's files are, which files, and whether this call fetched them."""

    path: Path
    files: tuple[str, ...]
    fetched: bool


@dataclass(frozen=True)
class SubmissionReceipt:
    """Kaggle's answer to a submission: its reference number and message."""

    competition: str
    ref: int
    message: str


@dataclass(frozen=True)
class SubmissionRecord:
    """One of your submissions to a competition, as Kaggle lists it (scores are text, or "")."""

    ref: int
    date: str
    file_name: str
    description: str
    status: str
    public_score: str
    private_score: str

    def row(self) -> str:
        """``date<TAB>file<TAB>status<TAB>public<TAB>private<TAB>description``."""
        return "\t".join(
            [
                self.date,
                self.file_name,
                self.status,
                self.public_score,
                self.private_score,
                self.description,
            ]
        )


@contextlib.contextmanager
def _translated_errors(api: Any, action: str, competition: str) -> Iterator[None]:
    """Turn the client's exceptions into one-line :class:`KaggleError` messages."""
    import requests

    try:
        yield
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        reason = str(exc).split(" for url")[0]
        if status == 401:
            raise KaggleError(
                f"Kaggle refused the credentials while trying to {action} (HTTP 401): "
                f"{CREDENTIALS_HELP}"
            ) from None
        if status == 403:
            raise KaggleError(
                f"Kaggle forbade the request to {action} (HTTP 403): accept the rules at "
                f"https://www.kaggle.com/competitions/{competition}/rules with this account"
            ) from None
        if status == 404:
            raise KaggleError(
                f"competition {competition!r} not found while trying to {action} (HTTP 404)"
            ) from None
        raise KaggleError(
            f"Kaggle answered HTTP {status} while trying to {action}: {reason}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise KaggleError(
            f"cannot reach Kaggle at {api.endpoint} to {action}: {type(exc).__name__}; "
            "check the network connection"
        ) from None
    except (zipfile.BadZipFile, ValueError) as exc:
        raise KaggleError(f"could not {action}: {exc}") from None


def _client() -> Any:
    """An authenticated ``KaggleApi`` whose requests go where ``KAGGLE_API_ENVIRONMENT`` says.

    ``KaggleApi`` itself only distinguishes the real service from ``LOCALHOST``; building the
    ``kagglesdk`` client from the environment lets the stand-in server at ``TEST`` be used too.
    """
    chatter = io.StringIO()  # the client prints help and warnings on import and login
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            from kaggle.api.kaggle_api_extended import KaggleApi
            from kagglesdk import KaggleClient
            from kagglesdk.kaggle_env import get_endpoint, get_env
    except ImportError:
        raise KaggleError("the kaggle package is not installed: pip install kaggle") from None
    try:
        environment = get_env()
    except Exception as exc:  # kagglesdk raises a bare Exception for an unknown name
        raise KaggleError(f"KAGGLE_API_ENVIRONMENT: {exc}") from None

    class EnvironmentAwareApi(KaggleApi):
        endpoint = get_endpoint(environment)

        def build_kaggle_client(self) -> Any:
            return KaggleClient(
                env=environment,
                verbose="--verbose" in self.args,
                username=self.config_values.get(self.CONFIG_NAME_USER),
                password=self.config_values.get(self.CONFIG_NAME_KEY),
                api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                response_processor=self.get_response_processor(),
            )

    api = EnvironmentAwareApi()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            api.authenticate()
    except SystemExit:
        raise KaggleError(f"no Kaggle credentials found: {CREDENTIALS_HELP}") from None
    except (OSError, ValueError) as exc:
        raise KaggleError(f"could not read the Kaggle credentials: {exc}") from None
    return api


def _read_manifest(folder: Path) -> tuple[str, ...] | None:
    """The files a finished download recorded, if all of them are still there with their sizes."""
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        sizes: dict[str, int] = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for name, size in sizes.items():
        file = folder / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return tuple(sorted(sizes))


def _unzip(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(folder)
    except zipfile.BadZipFile:
        raise KaggleError(f"{archive}: not a valid zip archive") from None


def _extract_nested_archives(folder: Path) -> None:
    """Unzip every ``.zip`` under ``folder`` in place, archives inside archives too."""
    while archives := sorted(folder.rglob("*.zip")):
        for archive in archives:
            _unzip(archive, archive.parent)
            archive.unlink()


def download(
    competition: str = DEFAULT_COMPETITION,
    dest: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> DownloadedCompetition:
    """Fetch a competition's files into ``dest`` (default ``data/<competition>``), unzipped.

    Idempotent: a folder that a finished download filled, with every file still present at
    its recorded size, is left alone unless ``force``. The archive is fetched into a hidden
    folder beside ``dest`` (an interrupted transfer resumes from there) and ``dest`` is
    replaced only once everything is extracted.
    """
    target = Path(dest) if dest is not None else Path("data") / competition
    if not force and (files := _read_manifest(target)) is not None:
        return DownloadedCompetition(target, files, fetched=False)
    api = _client()
    incoming = target.with_name(f".{target.name}.download")
    with (
        _translated_errors(api, f"download {competition}", competition),
        contextlib.redirect_stdout(sys.stderr),
    ):
        api.competition_download_files(competition, path=str(incoming), force=force, quiet=False)
    archives = sorted(incoming.glob("*.zip"))
    if not archives:
        raise KaggleError(f"the download of {competition} brought no zip archive into {incoming}")
    with atomic_directory(target) as staging:
        for archive in archives:
            _unzip(archive, staging)
        _extract_nested_archives(staging)
        sizes = {
            str(path.relative_to(staging)): path.stat().st_size
            for path in sorted(staging.rglob("*"))
            if path.is_file()
        }
        record = {"competition": competition, "files": sizes}
        (staging / MANIFEST).write_text(json.dumps(record, indent=1), encoding="utf-8")
    shutil.rmtree(incoming, ignore_errors=True)
    return DownloadedCompetition(target, tuple(sorted(sizes)), fetched=True)


def submit(competition: str, file: str | os.PathLike[str], message: str) -> SubmissionReceipt:
    """Upload a submission file with a description; returns Kaggle's receipt.

    The file is checked first (header, ids, 20 distinct images a row), so a malformed file
    never reaches the leaderboard.
    """
    from retrieval.data import validate_submission

    path = Path(file)
    if not path.is_file():
        raise KaggleError(f"{path}: submission file not found")
    validate_submission(path)
    if not message.strip():
        raise KaggleError("the submission message is empty: describe the run in a few words")
    api = _client()
    with (
        _translated_errors(api, f"submit to {competition}", competition),
        contextlib.redirect_stdout(sys.stderr),
    ):
        response = api.competition_submit(str(path), message, competition, quiet=True)
    if response.message == api.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
        raise KaggleError(f"the upload of {path} to {competition} did not complete; try again")
    return SubmissionReceipt(competition, int(response.ref or 0), response.message)


def submissions(competition: str = DEFAULT_COMPETITION) -> list[SubmissionRecord]:
    """Your submissions to ``competition``, newest first, with their status and scores."""
    api = _client()
    with (
        _translated_errors(api, f"list the submissions to {competition}", competition),
        contextlib.redirect_stdout(sys.stderr),
    ):
        listed = api.competition_submissions(competition) or []
    records = []
    for item in listed:
        if item is None:
            continue
        status = getattr(item.status, "name", str(item.status or ""))
        records.append(
            SubmissionRecord(
                ref=int(item.ref or 0),
                date="" if item.date is None else str(item.date)[:19],
                file_name=item.file_name or "",
                description=" ".join((item.description or "").split()),
                status=status.lower(),
                public_score=item.public_score or "",
                private_score=item.private_score or "",
            )
        )
    return records
