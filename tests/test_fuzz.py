"""Fuzzed readers: a clear one-line error or a correct result, never a traceback.

Each property mutates one real file of a small valid input (a competition folder, a captions
table, a submission, a bundle) with generated text or bytes and loads it again. The only
exceptions allowed are the package's own errors (``RetrievalError``: ``DataFormatError``,
``StoreError``), whose message is one line naming the file.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.data import (
    check_submission,
    load_captions_table,
    load_competition,
    make_synthetic_competition,
    score_submission,
    write_submission,
)
from retrieval.errors import RetrievalError
from retrieval.store import StoreError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LINES = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=0, max_size=6
)
NOISE = st.one_of(
    st.binary(max_size=300),
    LINES.map(lambda lines: "\n".join(lines).encode("utf-8")),
    st.lists(st.sampled_from(["0.5", ",", "nan", "images_train/1.jpg", "\n", "", "x", "1e9999"]))
    .map("".join)
    .map(str.encode),
)


def one_line_error(exc: RetrievalError) -> None:
    message = str(exc)
    assert message and "Traceback" not in message
    assert len(message.splitlines()[0]) < 2000


@pytest.fixture(scope="module")
def competition() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fuzz-competition-"))
    return make_synthetic_competition(
        root, n_train=6, n_test=4, pool5_dim=8, fc1000_dim=3, sentences=(1, 2)
    )


TARGETS = [
    "descriptions_train/2.txt",
    "tags_train/1.txt",
    "features_train/features_resnet1000intermediate_train.csv",
    "features_test/features_resnet1000_test.csv",
    "answers_test.csv",
]


@FUZZ
@given(target=st.sampled_from(TARGETS), data=NOISE)
def test_the_competition_reader_on_a_mutated_file(competition: Path, target: str, data: bytes):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "c"
        shutil.copytree(competition, root)
        (root / target).write_bytes(data)
        split = "test" if "test" in target else "train"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                dataset = load_competition(
                    root, split, answers=root / "answers_test.csv" if split == "test" else None
                )
            except RetrievalError as exc:
                one_line_error(exc)
                return
        assert len(dataset) > 0
        assert dataset.pool5 is not None and np.isfinite(dataset.pool5).all()
        assert dataset.pool5.shape == (len(dataset), 8)
        if dataset.relevant is not None:
            assert ((dataset.relevant >= 0) & (dataset.relevant < len(dataset))).all()


@FUZZ
@given(header=st.sampled_from(["image,caption,tags", "image,caption", "caption", ""]), body=NOISE)
def test_captions_tables(tmp_path_factory: pytest.TempPathFactory, header: str, body: bytes):
    folder = tmp_path_factory.mktemp("captions")
    from PIL import Image

    Image.new("RGB", (4, 4)).save(folder / "a.jpg")
    table = folder / "captions.csv"
    table.write_bytes(header.encode() + b"\na.jpg,a red square,shape:square\n" + body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = load_captions_table(table)
        except RetrievalError as exc:
            one_line_error(exc)
            return
    assert len(dataset) >= 1
    assert all(path.is_file() for path in dataset.image_paths)


@FUZZ
@given(lines=LINES, tail=NOISE)
def test_submissions_are_checked_never_raised(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], tail: bytes
):
    folder = tmp_path_factory.mktemp("submission")
    good = folder / "good.csv"
    write_submission(good, ["0", "1", "2"], [[str(i) for i in range(20)]] * 3)
    answers = folder / "answers.csv"
    answers.write_text("Description_ID,Image_ID\n0,0\n1,3\n2,25\n", encoding="utf-8")
    bad = folder / "bad.csv"
    bad.write_bytes(good.read_bytes() + "\n".join(lines).encode() + tail)
    check = check_submission(bad, description_ids=["0", "1", "2"])
    assert isinstance(check.ok, bool)
    if not check.ok:
        assert check.problems and all(isinstance(p, str) for p in check.problems)
    try:
        score = score_submission(bad, answers)
    except RetrievalError as exc:
        one_line_error(exc)
        assert not check.ok
        return
    assert check.ok and 0 <= score.map_at_20 <= 1


@pytest.fixture(scope="module")
def bundle() -> Path:
    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle

    root = make_synthetic_competition(
        tempfile.mkdtemp(prefix="fuzz-bundle-"), n_train=30, n_test=5, pool5_dim=16, fc1000_dim=3
    )
    config = RunConfig.from_dict(
        {
            "image": {"use_autoencoder": False, "whiten": False},
            "text": {"encoders": ["tfidf"]},
            "mappers": [{"kind": "ridge", "space": "features"}],
            "tags": {"enabled": True, "min_count": 1},
            "fusion": {"select": "fixed"},
        }
    )
    train = load_competition(root, "train")
    model = Trainer(config).fit(train)
    return save_bundle(root / "bundle", model, model.gallery_from_dataset(train))


def _bundle_files(bundle: Path) -> list[str]:
    return sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())


@FUZZ
@given(data=st.data())
def test_a_damaged_bundle_loads_or_fails_in_one_line(bundle: Path, data: st.DataObject) -> None:
    from retrieval.core import Searcher, load_bundle

    target = data.draw(st.sampled_from(_bundle_files(bundle)))
    how = data.draw(st.sampled_from(["noise", "truncate", "json", "delete"]))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "bundle"
        shutil.copytree(bundle, copy)
        path = copy / target
        raw = path.read_bytes()
        if how == "noise":
            path.write_bytes(data.draw(NOISE))
        elif how == "truncate":
            path.write_bytes(raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))])
        elif how == "delete":
            path.unlink()
        elif target.endswith(".json"):
            manifest = json.loads(raw)
            key = data.draw(st.sampled_from(sorted(manifest)))
            manifest[key] = data.draw(
                st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just({}), st.just([]))
            )
            path.write_text(json.dumps(manifest), encoding="utf-8")
        else:
            path.write_bytes(raw[:-8] + b"\x00" * 8)
        try:
            model, gallery = load_bundle(copy)
        except StoreError as exc:
            one_line_error(exc)
            return
        hits = Searcher(model, gallery).search("alpha beta", 3)
        assert all(np.isfinite(h.score) for h in hits)


def test_a_pickle_payload_in_a_bundle_runs_nothing(bundle: Path, tmp_path: Path) -> None:
    import pickle

    from retrieval.core import load_bundle

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / "encoder.pkl").write_bytes(pickle.dumps(Payload()))
    target = sorted((copy / "arrays").rglob("*.npy"))[0]
    np.save(target, np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(StoreError, match=target.name):
        load_bundle(copy)
    assert not marker.exists()
    pickle.loads((copy / "encoder.pkl").read_bytes())  # the payload is live: it would have run
    assert marker.exists()


def _replace_codes(copy: Path, value: np.ndarray, finite: bool | None) -> Path:
    """Write ``value`` as the gallery codes; ``finite`` not None: record it consistently."""
    import hashlib

    codes = copy / "arrays" / "gallery" / "spaces" / "code.npy"
    np.save(codes, value)
    if finite is not None:
        manifest_path = copy / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        data = codes.read_bytes()[-value.nbytes :]
        manifest["arrays"]["gallery/spaces/code"].update(
            sha256=hashlib.sha256(data).hexdigest(), finite=finite
        )
        manifest_path.write_text(json.dumps(manifest))
    return codes


def test_a_bundle_whose_codes_are_nan_is_refused(bundle: Path, tmp_path: Path) -> None:
    from retrieval.core import load_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    nan = np.full_like(np.load(copy / "arrays" / "gallery" / "spaces" / "code.npy"), np.nan)
    codes = _replace_codes(copy, nan, finite=True)
    with pytest.raises(StoreError, match=f"{codes}: holds NaN or infinity"):
        load_bundle(copy)
    _replace_codes(copy, nan, finite=False)  # allowed by the store, refused by the gallery
    with pytest.raises(StoreError, match="not a complete bundle .*NaN or infinity"):
        load_bundle(copy)


def test_a_bundle_whose_codes_were_rewritten_is_reported_damaged(
    bundle: Path, tmp_path: Path
) -> None:
    from retrieval.core import load_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    codes = _replace_codes(
        copy, np.zeros_like(np.load(bundle / "arrays/gallery/spaces/code.npy")), None
    )
    with pytest.raises(StoreError, match=f"{codes}: damaged: .*SHA-256"):
        load_bundle(copy)
