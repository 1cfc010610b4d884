"""A searchable library of the user's own folders of pictures, kept up to date incrementally.

The library lives in one folder (the *store*): a SQLite catalogue of the crawled files
(:mod:`retrieval.library.crawl`), a feature cache keyed by path, size and mtime
(:mod:`retrieval.features`), and ``index/`` (a :mod:`retrieval.store` folder: the bundle it
was built with, the feature record, the roots, and the image spaces of the distinct
pictures). ``update`` extracts only new or changed files; deleted files leave the index; an
interrupted update resumes from the cache, and the catalogue keeps a crawl only once the index
is written, so files a failed update did not index count as new again; identical files are
indexed once; skipped files are named on stderr and in the report. Features are
always made by the network the bundle was trained on, as its feature record says.

A library is either coded with a trained bundle or embedded by CLIP (``model="clip:PRESET"``,
zero-shot, no bundle: :mod:`retrieval.features.clip`); the manifest records which (CLIP's
record names its preset), and the two never mix in one library.

Examples
--------
>>> library = PictureLibrary(default_library_folder())                      # doctest: +SKIP
>>> report = library.update(["~/Pictures"], bundle="runs/demo/bundle")   # doctest: +SKIP
>>> library.searcher().search("a red apple", k=5)                       # doctest: +SKIP
>>> clip = PictureLibrary("~/clip-library")                    # doctest: +SKIP
>>> clip.update(["~/Pictures"], model="clip:clip_vit_base_patch32")      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval import store
from retrieval.core import CODE, Gallery, GallerySearcher, Searcher, TrainedModel, load_bundle
from retrieval.features import ExtractionResult, extract_features, extraction_settings
from retrieval.features.clip import (
    ClipEncoder,
    clip_encoder,
    is_clip_record,
    parse_model_spec,
    resolve_preset,
)
from retrieval.features.shards import reusing_shards
from retrieval.library._clip import ClipSearcher
from retrieval.library._lock import exclusive_lock
from retrieval.library.crawl import DEFAULT_EXTENSIONS, FileCatalog

_log = logging.getLogger(__name__)

KIND = "retrieval.library"


@dataclass
class LibraryUpdate:
    """What an update did."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    indexed: int = 0
    extracted: int = 0
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_before: int = 0

    def __str__(self) -> str:
        copies = sum(len(v) for v in self.duplicates.values())
        duplicates = (
            f"{copies} duplicate {'file' if copies == 1 else 'files'} (the content is indexed once)"
            if copies
            else "no duplicate files"
        )
        return (
            f"{self.indexed} pictures indexed ({self.added} new, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged; {self.extracted} extracted); {duplicates}; "
            f"{len(self.skipped)} skipped"
            + (
                f" ({self.skipped_before} more as before, unchanged since)"
                if self.skipped_before
                else ""
            )
        )


def default_library_folder() -> Path:
    """The per-user library: ``$XDG_DATA_HOME/retrieval/library`` (``~/.local/share/...``).

    >>> default_library_folder().parts[-2:]
    ('retrieval', 'library')
    """
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "retrieval" / "library"


class PictureLibrary:
    """The library kept in ``store``."""

    def __init__(self, store_folder: str | os.PathLike[str]) -> None:
        self.store = Path(store_folder).expanduser()
        self.index_path = self.store / "index"

    def manifest(self) -> dict:
        """The library's roots, bundle and feature record (empty ones before the first update);
        a CLIP library has no bundle and a CLIP record (``{"model": "clip", "preset": ...}``)."""
        if not self.index_path.is_dir():
            return {"roots": [], "bundle": None, "features": None}
        return _checked_meta(store.read_manifest(self.index_path, KIND), self.index_path)

    def _load_index(self) -> store.Stored:
        """The stored index, its manifest's fields checked and one row per path in each space."""
        stored = store.load(self.index_path, KIND)
        meta = _checked_meta(stored.meta, self.index_path)
        if not isinstance(meta.get("paths"), list) or not all(
            isinstance(p, str) for p in meta["paths"]
        ):
            raise store.StoreError("'paths' must be a list of file paths", path=self._manifest)
        for name, rows in store.part("spaces", stored.arrays).items():
            if rows.ndim != 2 or len(rows) != len(meta["paths"]):
                raise store.StoreError(
                    f"space {name!r} has shape {rows.shape}, expected one row for each of the "
                    f"{len(meta['paths'])} paths",
                    path=self._manifest,
                )
        return stored

    @property
    def _manifest(self) -> Path:
        return self.index_path / store.MANIFEST

    def update(
        self,
        roots: Sequence[str | os.PathLike[str]] = (),
        *,
        bundle: str | os.PathLike[str] | None = None,
        model: str | None = None,
        weights_file: str | os.PathLike[str] | None = None,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        include_hidden: bool = False,
        batch_size: int | None = None,
        exclude_dirs: Sequence[str] | None = None,
        max_bytes: int | None = None,
        shards: str | os.PathLike[str] | None = None,
    ) -> LibraryUpdate:
        """Crawl ``roots`` (plus the roots indexed before) and bring the index up to date.

        The first time, give ``bundle`` (a trained bundle) or ``model`` (``"clip:PRESET"``, a
        keras-hub CLIP preset name or folder); later the library remembers it. ``weights_file``
        only when the bundle's features were made with a weights file. ``exclude_dirs``
        (folder names or paths left out) and ``max_bytes`` (larger files are skipped) are
        remembered too, until given again (``[]`` and ``0`` clear them). ``shards`` is a folder
        of feature shards (``retrieval features --shards``) made with the bundle's network: a
        picture found there with the same size and mtime takes its row, and only the others
        are extracted.
        """
        with exclusive_lock(self.store / ".lock", f"the library {self.store}"):  # one run at a time
            manifest = self.manifest()
            all_roots = sorted(
                {str(Path(r).expanduser().resolve()) for r in [*manifest["roots"], *roots]}
            )
            if not all_roots:
                raise ValueError("give at least one folder to index")
            encoder = self._encoder(manifest, bundle=bundle, model=model)
            stored_limits = manifest.get("crawl", {})
            if exclude_dirs is None:
                exclude_dirs = stored_limits.get("exclude_dirs", [])
            if max_bytes is None:
                max_bytes = stored_limits.get("max_bytes")
            options = {
                "extensions": extensions,
                "include_hidden": include_hidden,
                "crawl": {"exclude_dirs": list(exclude_dirs), "max_bytes": max_bytes or None},
            }
            cache = self.store / "features"
            if encoder is not None:
                if shards is not None:
                    raise ValueError("--from-shards is for bundle libraries; CLIP embeds its own")
                if weights_file is not None:
                    raise ValueError("--weights-file is for ResNet-50 bundles; CLIP needs none")
                return self._update(
                    all_roots,
                    encode=lambda files: encoder.encode_files(
                        files, cache_dir=cache, batch_size=batch_size
                    ),
                    spaces=lambda rows: {CODE: np.asarray(rows, np.float32)},
                    meta={"bundle": None, "features": encoder.record},
                    **options,
                )
            bundle = str(Path(bundle).resolve()) if bundle is not None else manifest["bundle"]
            if bundle is None:
                raise ValueError(
                    "give the trained bundle to index with (--bundle) or a CLIP model (--model clip:PRESET)"
                )
            trained, _ = load_bundle(bundle)
            if manifest["features"] is not None and manifest["features"] != trained.feature_record:
                raise ValueError(
                    f"{self.store}: the library's pictures were encoded with {manifest['features']}, "
                    f"the bundle {bundle} with {trained.feature_record}; use a new --library for this bundle"
                )
            if is_clip_record(trained.feature_record):  # a bundle trained on CLIP embeddings
                clip = clip_encoder(trained.feature_record["preset"])

                def encode(files: list[Path]) -> ExtractionResult:
                    return clip.encode_files(files, cache_dir=cache, batch_size=batch_size)

            else:
                settings = extraction_settings(trained.feature_record, weights_file)

                def encode(files: list[Path]) -> ExtractionResult:
                    return extract_features(
                        files, **settings, batch_size=batch_size, cache_dir=cache
                    )

            if shards is not None:
                encode = reusing_shards(encode, shards, trained.feature_record)
            return self._update(
                all_roots,
                encode=encode,
                spaces=lambda rows: _image_spaces(trained, rows),
                meta={"bundle": bundle, "features": trained.feature_record},
                **options,
            )

    def _encoder(
        self, manifest: dict, *, bundle: str | os.PathLike[str] | None, model: str | None
    ) -> ClipEncoder | None:
        """The CLIP encoder of this update (``None``: a bundle library); mixing is refused."""
        pure_clip = manifest["bundle"] is None and is_clip_record(manifest["features"])
        stored = manifest["features"] if pure_clip else None
        if bundle is not None and model is not None:
            raise ValueError("give --bundle or --model, not both")
        if bundle is not None and stored is not None:
            raise ValueError(
                f"{self.store}: the library's pictures were embedded by CLIP ({stored['preset']}); "
                f"pictures coded with the bundle {bundle} cannot join them; use a new --library"
            )
        if model is None:
            return None if stored is None else ClipEncoder(stored["preset"])
        preset = parse_model_spec(model)
        if manifest["bundle"] is not None:
            raise ValueError(
                f"{self.store}: the library's pictures were coded with the bundle "
                f"{manifest['bundle']}; CLIP pictures cannot join them; use a new --library for "
                f"--model {model}"
            )
        preset = resolve_preset(preset)
        if stored is not None and stored["preset"] != preset:
            raise ValueError(
                f"{self.store}: the library's pictures were embedded by CLIP {stored['preset']}, "
                f"not {preset}; use a new --library for this preset"
            )
        encoder = ClipEncoder(preset)
        if stored is not None and stored != encoder.record:
            raise ValueError(
                f"{self.store}: the library's pictures were embedded as {stored}, the preset "
                f"{preset} now makes {encoder.record}; use a new --library"
            )
        return encoder

    def _update(
        self,
        all_roots: list[str],
        *,
        encode: Callable[[list[Path]], ExtractionResult],
        spaces: Callable[[np.ndarray], dict[str, np.ndarray]],
        meta: dict,
        extensions: Sequence[str],
        include_hidden: bool,
        crawl: dict,
    ) -> LibraryUpdate:
        """Crawl ``all_roots`` (with the ``crawl`` limits: excluded folders, largest file),
        ``encode`` the distinct files whose content the index does not
        hold yet, and store every file's image ``spaces`` with ``meta``.

        Rows of pictures whose content is unchanged are kept from the index (when it was made
        with the same ``meta``), so an update that finds nothing new encodes nothing and never
        builds the network. Files skipped before and unchanged since are not tried again, and
        not named again: ``report.skipped_before`` counts them."""
        self.store.mkdir(parents=True, exist_ok=True)
        report = LibraryUpdate()
        previous = self._previous_index(meta)
        with FileCatalog(self.store / "catalog.sqlite") as catalog:
            # kept only once the index is written: files a failed run did not store stay new
            changes = catalog.sync(
                all_roots,
                extensions=extensions,
                include_hidden=include_hidden,
                commit=False,
                **crawl,
            )
            report.added, report.changed = len(changes.added), len(changes.changed)
            report.removed, report.unchanged = len(changes.removed), changes.unchanged
            report.duplicates = changes.duplicates
            fresh = {str(p) for p in (*changes.added, *changes.changed)}
            skipped_now: dict[str, list] = {}
            for path, reason in changes.skipped:
                self._note_skipped(path, reason, previous, skipped_now, report)
            kept = previous.positions if previous is not None else {}
            unique = catalog.unique_files()
            todo = []
            for path in unique:
                if str(path) in kept and str(path) not in fresh:
                    continue
                if str(path) not in fresh and self._skipped_before(path, previous, skipped_now):
                    report.skipped_before += 1
                    continue
                todo.append(path)
            result = encode(todo) if todo else None
            made: dict[str, np.ndarray] = {}
            new_rows: dict[str, int] = {}
            if result is not None:
                report.extracted = len(todo) - result.reused - len(result.failures)
                for path, reason in result.failures:
                    self._note_skipped(path, reason, None, skipped_now, report, logged=True)
                made = spaces(result.pool5)
                new_rows = {str(p): i for i, p in enumerate(result.paths)}
            paths = [
                str(p)
                for p in unique
                if str(p) in new_rows or (str(p) in kept and str(p) not in fresh)
            ]
            store.save(
                self.index_path,
                KIND,
                {
                    "roots": all_roots,
                    **meta,
                    "crawl": crawl,
                    "paths": paths,
                    "skipped": skipped_now,
                },
                store.nest("spaces", _assemble(paths, previous, made, new_rows, spaces)),
            )
            catalog.commit()
        report.indexed = len(paths)
        return report

    def _previous_index(self, meta: dict) -> _PreviousIndex | None:
        """The index as it stands, when it was made with the same bundle and features."""
        if not self.index_path.is_dir():
            return None
        stored = self._load_index()
        if any(stored.meta.get(key) != value for key, value in meta.items()):
            return None
        positions = {path: i for i, path in enumerate(stored.meta["paths"])}
        skipped = dict(stored.meta.get("skipped", {}))
        return _PreviousIndex(positions, skipped, store.part("spaces", stored.arrays))

    @staticmethod
    def _note_skipped(
        path: Path,
        reason: str,
        previous: _PreviousIndex | None,
        skipped_now: dict[str, list],
        report: LibraryUpdate,
        *,
        logged: bool = False,
    ) -> None:
        """Remember a skipped file with its size and time; name it unless it was skipped
        before for the same reason and is unchanged since (extraction names its own)."""
        try:
            stat = path.stat()
            signature = [reason, stat.st_size, stat.st_mtime_ns]
        except OSError:
            signature = [reason, None, None]
        skipped_now[str(path)] = signature
        if previous is not None and previous.skipped.get(str(path)) == signature:
            report.skipped_before += 1
            return
        report.skipped.append((str(path), reason))
        if not logged:
            _log.warning("skipping %s: %s", path, reason)

    @staticmethod
    def _skipped_before(
        path: Path, previous: _PreviousIndex | None, skipped_now: dict[str, list]
    ) -> bool:
        """Whether ``path`` could not be read last time and is unchanged since."""
        if previous is None or str(path) not in previous.skipped:
            return False
        reason, size, mtime = previous.skipped[str(path)]
        try:
            stat = path.stat()
        except OSError:
            return False
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
            return False
        skipped_now[str(path)] = [reason, size, mtime]
        return True

    def searcher(self) -> GallerySearcher:
        """A searcher over the indexed pictures: with the library's bundle, or with CLIP."""
        if not self.index_path.is_dir():
            raise ValueError(
                f"{self.store}: nothing indexed yet; run `retrieval index FOLDER --library {self.store}`"
            )
        stored = self._load_index()
        paths = stored.meta["paths"]
        if not paths:
            raise ValueError(f"{self.store}: the library holds no pictures")
        gallery = Gallery(paths, paths, store.part("spaces", stored.arrays), name=str(self.store))
        if stored.meta["bundle"] is None and is_clip_record(stored.meta["features"]):
            return ClipSearcher(ClipEncoder(stored.meta["features"]["preset"]), gallery)
        model, _ = load_bundle(stored.meta["bundle"])
        return Searcher(model, gallery)

    @property
    def roots(self) -> list[Path]:
        return [Path(r) for r in self.manifest()["roots"]]

    def covers(self, folder: str | os.PathLike[str]) -> bool:
        """Whether ``folder`` is one of the library's folders or lies inside one.

        >>> import tempfile
        >>> PictureLibrary(tempfile.mkdtemp()).covers("/tmp")
        False
        """
        folder = Path(folder).resolve()
        return any(folder.is_relative_to(Path(root).resolve()) for root in self.roots)


def _image_spaces(model: TrainedModel, pool5: np.ndarray) -> dict[str, np.ndarray]:
    """A bundle's image spaces of ``pool5`` rows (empty ones for no rows)."""
    if len(pool5):
        return model.image_spaces(pool5)
    return {space: np.zeros((0, 1), np.float32) for space in model.spaces}


@dataclass
class _PreviousIndex:
    """What the stored index holds: each path's row, the files it skipped (path:
    ``[reason, size, mtime_ns]``) and its arrays by space."""

    positions: dict[str, int]
    skipped: dict[str, list]
    spaces: dict[str, np.ndarray]


def _assemble(
    paths: list[str],
    previous: _PreviousIndex | None,
    made: dict[str, np.ndarray],
    new_rows: dict[str, int],
    spaces: Callable[[np.ndarray], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """The index's arrays, one row per path in order: a newly encoded row where there is one,
    else the stored index's row (empty arrays of the right spaces for no paths)."""
    if not paths:
        if previous is not None and previous.spaces:
            return {name: values[:0] for name, values in previous.spaces.items()}
        return spaces(np.zeros((0, 1), np.float32))
    fresh = np.array([p in new_rows for p in paths])
    from_new = [new_rows[p] for p, f in zip(paths, fresh, strict=True) if f]
    from_old = [previous.positions[p] for p, f in zip(paths, fresh, strict=True) if not f]
    source = made if from_new else previous.spaces  # an empty encoding has no real widths
    out = {}
    for name, values in source.items():
        rows = np.empty((len(paths), values.shape[1]), dtype=values.dtype)
        if from_new:
            rows[fresh] = made[name][from_new]
        if from_old:
            rows[~fresh] = previous.spaces[name][from_old]
        out[name] = rows
    return out


def _checked_meta(meta: dict, folder: Path) -> dict:
    """A library index's manifest, refused in one line when a field has the wrong kind."""
    where = folder / store.MANIFEST
    roots, bundle, features = meta.get("roots"), meta.get("bundle"), meta.get("features")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise store.StoreError("'roots' must be a list of folders", path=where)
    if bundle is not None and not isinstance(bundle, str):
        raise store.StoreError("'bundle' must be a folder or null", path=where)
    if features is not None and not isinstance(features, dict):
        raise store.StoreError("'features' must be a feature record or null", path=where)
    crawl = meta.get("crawl", {})
    if not isinstance(crawl, dict) or not isinstance(crawl.get("exclude_dirs", []), list):
        raise store.StoreError("'crawl' must hold a list of excluded folders", path=where)
    if crawl.get("max_bytes") is not None and not isinstance(crawl["max_bytes"], int):
        raise store.StoreError("'crawl.max_bytes' must be a number of bytes or null", path=where)
    return meta
