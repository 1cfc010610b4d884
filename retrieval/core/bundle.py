"""A bundle: a trained model and the gallery it searches by default, in one stored folder.

The folder follows :mod:`retrieval.store`: ``manifest.json`` (kind ``retrieval.bundle``,
format version, config, feature record, training history, vocabulary, gallery ids, paths
and tags) and ``arrays/`` (``.npy`` files). Loading never runs code, and a loaded bundle
saves back identical. Gallery paths are stored relative to the bundle folder, so a bundle
finds its pictures from any working directory, and after both are moved together.

Examples
--------
>>> save_bundle("runs/x/bundle", model, gallery)      # doctest: +SKIP
>>> model, gallery = load_bundle("runs/x/bundle")     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval import store
from retrieval.core.gallery import Gallery, picture_folders
from retrieval.core.model import TrainedModel

KIND = "retrieval.bundle"
PATHS_BASE = "bundle"  # gallery paths are relative to the bundle folder


def _relative_paths(paths: list[str], folder: Path) -> list[str]:
    base = os.path.abspath(folder)
    return [Path(os.path.relpath(os.path.abspath(p), base)).as_posix() for p in paths]


def _absolute_paths(paths: list[str], folder: Path) -> list[str]:
    base = os.path.abspath(folder)
    return [os.path.normpath(os.path.join(base, p)) for p in paths]


@dataclass(frozen=True)
class Bundle:
    """A trained model and its gallery as one :class:`~retrieval.store.Stateful` object.

    The gallery's paths and the folders they are in are stored relative to ``base`` (the
    bundle's folder), and :meth:`located` makes loaded ones absolute again. ``base`` is
    ``None`` for paths loaded as the earliest bundles stored them, absolute.

    >>> store.save_state("runs/x/bundle", KIND, Bundle(model, gallery, base=Path("runs/x/bundle")))  # doctest: +SKIP
    """

    model: TrainedModel
    gallery: Gallery
    base: Path | None = Path(".")

    def get_state(self) -> tuple[store.Meta, store.Arrays]:
        model_meta, model_arrays = self.model.get_state()
        gallery_meta, gallery_arrays = self.gallery.get_state()
        gallery = self.gallery
        roots = gallery.roots if gallery.roots is not None else picture_folders(gallery.paths)
        base = self.base if self.base is not None else Path(".")
        gallery_meta["roots"] = _relative_paths([str(r) for r in roots], base)
        gallery_meta["paths"] = _relative_paths(gallery_meta["paths"], base)
        gallery_meta["paths_base"] = PATHS_BASE
        meta = {"model": model_meta, "gallery": gallery_meta}
        return meta, {**store.nest("model", model_arrays), **store.nest("gallery", gallery_arrays)}

    @classmethod
    def from_state(
        cls, meta: store.Meta, arrays: Mapping[str, np.ndarray], *, source: str = "bundle"
    ) -> Bundle:
        """The bundle with its gallery's paths as stored (relative: see :meth:`located`)."""
        model = TrainedModel.from_state(meta["model"], store.part("model", arrays), source=source)
        gallery = Gallery.from_state(dict(meta["gallery"]), store.part("gallery", arrays))
        relative = meta["gallery"].get("paths_base") == PATHS_BASE
        return cls(model, gallery, base=Path(".") if relative else None)

    def located(self, folder: Path) -> Bundle:
        """The bundle with stored relative paths resolved against its ``folder``."""
        if self.base is None:
            return self
        paths = _absolute_paths([str(p) for p in self.gallery.paths], folder)
        roots = self.gallery.roots
        gallery = replace(
            self.gallery,
            paths=[Path(p) for p in paths],
            roots=None if roots is None else [Path(r) for r in _absolute_paths(roots, folder)],
        )
        return Bundle(self.model, gallery, base=folder)


def save_bundle(path: str | os.PathLike[str], model: TrainedModel, gallery: Gallery) -> Path:
    """Write the bundle folder atomically (an existing one is replaced only when complete).

    The folders the gallery's pictures are in are recorded beside their paths (both relative
    to the bundle), so that the page serves no picture outside them."""
    return store.save_state(path, KIND, Bundle(model, gallery, base=Path(path)))


def load_bundle(path: str | os.PathLike[str]) -> tuple[TrainedModel, Gallery]:
    """The model and default gallery of a bundle; needs neither Keras nor gensim."""
    stored = store.load(path, KIND)
    manifest = stored.folder / store.MANIFEST
    try:
        bundle = Bundle.from_state(store.state_of(stored), stored.arrays, source=str(manifest))
        bundle = bundle.located(stored.folder)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, store.StoreError):
            raise
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise store.StoreError(f"{manifest}: not a complete bundle ({detail})") from None
    check_parts_fit(bundle.model, bundle.gallery, source=manifest)
    return bundle.model, bundle.gallery


PROBE = "a photo"


def check_parts_fit(
    model: TrainedModel, gallery: Gallery, *, source: os.PathLike[str] | str
) -> None:
    """Score one probe text against the gallery's first images and map one blank picture.

    Every array of a stored folder matches its manifest, but a manifest written to match a
    wrongly shaped or non-finite kernel passes that check; this one catches it at load, so a
    search or a page never fails later with an error that names no file.
    """
    try:
        probe = gallery.subset(range(min(len(gallery.ids), 2)))
        text_keys = model.query_keys(model.text_features([PROBE]))
        image_keys = model.gallery_keys(probe) if probe.ids else []
        if probe.ids:
            scores = model.scores([PROBE], probe)
            if scores.shape != (1, len(probe.ids)):
                raise ValueError(f"scores of shape {scores.shape} for {len(probe.ids)} images")
        blank = np.zeros((1, model.image_coder.n_features_in_), np.float32)
        spaces = model.image_spaces(blank)
    except (ValueError, IndexError, TypeError, KeyError) as exc:
        raise store.StoreError(f"{source}: its parts do not fit together ({exc})") from None
    for name, values in [
        ("text keys", text_keys),
        ("image keys", image_keys),
        ("image spaces", list(spaces.values())),
    ]:
        if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in values):
            raise store.StoreError(f"{source}: its model gives non-finite {name} (a damaged array)")
