"""A searchable index of the user's own folders of pictures, kept up to date incrementally.

The library lives in one folder (the *store*): a SQLite catalogue of the crawled files
(:mod:`retrieval.crawl`), a feature cache keyed by path, size and mtime
(:mod:`retrieval.features`), and the codes of the distinct pictures under the trained
bundle it was built with. ``update`` extracts only new or changed files; deleted files
leave the index; an interrupted update resumes from the cache; identical files are
indexed once.

Example
-------
>>> library = PictureLibrary("~/.retrieval/photos")                      # doctest: +SKIP
>>> report = library.update(["~/Pictures"], bundle="runs/demo/bundle")   # doctest: +SKIP
>>> library.retriever().search("a red apple", k=5)                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.crawl import DEFAULT_EXTENSIONS, FileCatalog
from retrieval.fileio import atomic_write, save_npy

LIBRARY_FORMAT = 1


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

    def __str__(self) -> str:
        copies = sum(len(v) for v in self.duplicates.values())
        return (
            f"{self.indexed} pictures indexed ({self.added} new, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged; {self.extracted} extracted); {copies} duplicate files reported once; "
            f"{len(self.skipped)} skipped"
        )


class PictureLibrary:
    """The index kept in ``store``."""

    def __init__(self, store: str | os.PathLike[str]) -> None:
        self.store = Path(store).expanduser()
        self.manifest_path = self.store / "library.json"

    def manifest(self) -> dict:
        if not self.manifest_path.is_file():
            return {"format": LIBRARY_FORMAT, "roots": [], "bundle": None, "weights": "imagenet"}
        manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != LIBRARY_FORMAT:
            raise ValueError(
                f"{self.manifest_path}: library format {manifest.get('format')!r}, expected {LIBRARY_FORMAT}"
            )
        return manifest

    def update(
        self,
        roots: Sequence[str | os.PathLike[str]] = (),
        *,
        bundle: str | os.PathLike[str] | None = None,
        weights: str | None = "imagenet",
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        include_hidden: bool = False,
        batch_size: int = 32,
    ) -> LibraryUpdate:
        """Crawl ``roots`` (plus the roots indexed before) and bring codes up to date."""
        from retrieval.features import extract_features
        from retrieval.pipeline import Retriever

        manifest = self.manifest()
        all_roots = sorted(
            {str(Path(r).expanduser().resolve()) for r in [*manifest["roots"], *roots]}
        )
        if not all_roots:
            raise ValueError("give at least one folder to index")
        bundle = str(Path(bundle).resolve()) if bundle is not None else manifest["bundle"]
        if bundle is None:
            raise ValueError("give the trained bundle to index with (--bundle)")
        retriever = Retriever.load(bundle)
        self.store.mkdir(parents=True, exist_ok=True)
        report = LibraryUpdate()
        with FileCatalog(self.store / "catalog.sqlite") as catalog:
            changes = catalog.sync(all_roots, extensions=extensions, include_hidden=include_hidden)
            unique = catalog.unique_files()
        report.added, report.changed = len(changes.added), len(changes.changed)
        report.removed, report.unchanged = len(changes.removed), changes.unchanged
        report.duplicates = changes.duplicates
        report.skipped = [(str(p), r) for p, r in changes.unreadable]
        result = extract_features(
            unique, weights=weights, batch_size=batch_size, cache_dir=self.store / "features"
        )
        report.extracted = len(unique) - result.reused - len(result.failures)
        report.skipped += [(str(p), r) for p, r in result.failures]
        codes = (
            retriever.encode_features(result.pool5)
            if result.paths
            else np.zeros((0, 1), np.float32)
        )
        save_npy(self.store / "codes.npy", codes)
        with atomic_write(self.store / "paths.json") as handle:
            json.dump([str(p) for p in result.paths], handle)
        manifest.update(roots=all_roots, bundle=bundle, weights=weights)
        with atomic_write(self.manifest_path) as handle:
            json.dump(manifest, handle, indent=1)
        report.indexed = len(result.paths)
        return report

    def retriever(self):
        """The library's bundle with its gallery set to the indexed pictures."""
        from retrieval.pipeline import Gallery, Retriever

        manifest = self.manifest()
        if manifest["bundle"] is None or not (self.store / "codes.npy").is_file():
            raise ValueError(
                f"{self.store}: nothing indexed yet; run `retrieval index FOLDER --store {self.store}`"
            )
        retriever = Retriever.load(manifest["bundle"])
        paths = [
            Path(p) for p in json.loads((self.store / "paths.json").read_text(encoding="utf-8"))
        ]
        retriever.set_gallery(
            Gallery([str(p) for p in paths], paths, np.load(self.store / "codes.npy"))
        )
        return retriever

    @property
    def roots(self) -> list[Path]:
        return [Path(r) for r in self.manifest()["roots"]]

    @property
    def weights(self) -> str | None:
        return self.manifest()["weights"]
