"""The index interface shared by every backend."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from retrieval import store
from retrieval.errors import RetrievalError

Metric = Literal["cosine", "euclidean"]
KIND = "retrieval.index"
INFO_ARRAYS = "info"
"""Where an index's ``info_arrays`` are stored among its arrays (``info/NAME``)."""


class IndexStateError(RetrievalError):
    """An index operation that the backend or its state does not allow."""


def append_rows(buffer: np.ndarray, count: int, rows: np.ndarray, room: int = 0) -> np.ndarray:
    """``buffer`` whose first ``count`` rows are kept, with ``rows`` written after them; a
    full buffer is replaced by one of ``room`` rows, or twice the rows needed, whichever is more.

    >>> buffer = append_rows(np.zeros((0, 2)), 0, np.ones((3, 2)), room=4)
    >>> buffer.shape, append_rows(buffer, 3, np.ones((1, 2))) is buffer
    ((4, 2), True)
    """
    needed = count + len(rows)
    if buffer.ndim != 2 or needed > len(buffer) or buffer.shape[1] != rows.shape[1]:
        grown = np.empty((max(room, 2 * needed if count else needed), rows.shape[1]), rows.dtype)
        if count:
            grown[:count] = buffer[:count]
        buffer = grown
    buffer[count:needed] = rows
    return buffer


def as_matrix(vectors: Any, dim: int | None = None, name: str = "vectors") -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"{name} have {matrix.shape[1]} dimensions, the index has {dim}")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} hold NaN or infinity")
    return matrix


BACKENDS: dict[str, type[VectorIndex]] = {}
"""Every backend by its tag; a backend class enters it with :func:`registered`."""


def registered(cls: type[VectorIndex]) -> type[VectorIndex]:
    """Class decorator: list a backend in :data:`BACKENDS` under its ``backend`` tag."""
    if not cls.backend or cls.backend in BACKENDS:
        raise ValueError(f"backend tag {cls.backend!r} is empty or taken")
    BACKENDS[cls.backend] = cls
    return cls


class VectorIndex(ABC):
    """``add(ids, vectors)``, ``search(vectors, k) -> (ids, scores)``, ``save``, ``load``, ``len``.

    Scores are similarities (higher is better): cosine similarity, or the negative
    Euclidean distance for ``metric="euclidean"``. Ids are strings. ``info`` (plain data)
    and ``info_arrays`` (named arrays) are stored with the index for its users: what its
    vectors are, a sample of them.
    """

    backend: str = ""
    metric: Metric

    def __init__(self, metric: Metric = "cosine") -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        self.metric = metric
        self.ids_: list[str] = []
        self.dim_: int | None = None
        self._known: set[str] = set()
        self._id_array = np.empty(0, dtype=object)
        self.info: dict[str, Any] = {}
        self.info_arrays: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids_)

    def reserve(self, total: int) -> None:  # noqa: B027 - a hint most backends need not take
        """Make room for ``total`` vectors in all, so that adding them in parts never copies
        what is already there (backends that hold arrays or a graph take the hint)."""

    def _check_add(self, ids: Sequence[object], vectors: Any) -> tuple[list[str], np.ndarray]:
        matrix = as_matrix(vectors, self.dim_)
        ids = [str(i) for i in ids]
        if len(ids) != len(matrix):
            raise ValueError(f"{len(ids)} ids for {len(matrix)} vectors")
        known = self._known_ids()
        repeated = [i for i in ids if i in known] or (
            [i for i in ids if ids.count(i) > 1] if len(set(ids)) != len(ids) else []
        )
        if repeated:
            raise IndexStateError(
                f"id {repeated[0]!r} is already in the index (ids must be unique)"
            )
        if self.dim_ is None:
            self.dim_ = int(matrix.shape[1])
        return ids, matrix

    def _check_search(self, vectors: Any, k: int) -> tuple[np.ndarray, int]:
        if not len(self):
            raise IndexStateError("the index is empty; add vectors first")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        return as_matrix(vectors, self.dim_, "queries"), min(int(k), len(self))

    @abstractmethod
    def add(self, ids: Sequence[object], vectors: Any) -> None: ...

    @abstractmethod
    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The backend's arrays to store."""
        return {}

    def _write_files(self, folder: Path) -> None:  # noqa: B027 - most backends write none
        """Files of the backend's own format to store beside the arrays (none by default)."""

    @abstractmethod
    def _restore(self, folder: Path, arrays: Mapping[str, np.ndarray]) -> None: ...

    def params(self) -> dict[str, Any]:
        return {"metric": self.metric}

    def get_state(self) -> tuple[store.Meta, store.Arrays]:
        """The index as plain data (the :class:`~retrieval.store.Stateful` protocol): its
        backend, parameters, ids and size, and the backend's arrays. A backend with files of
        its own format (HNSW's graph) writes them beside these in :meth:`save`."""
        meta = {
            "kind": self.backend,
            "params": self.params(),
            "ids": self.ids_,
            "dim": self.dim_,
            "info": self.info,
        }
        return meta, {**self._state_arrays(), **store.nest(INFO_ARRAYS, self.info_arrays)}

    @classmethod
    def from_state(
        cls, meta: store.Meta, arrays: Mapping[str, np.ndarray], *, folder: Path | None = None
    ) -> VectorIndex:
        """The index that :meth:`get_state` described (``folder``: where a backend's own files
        are, for the backends that have them)."""
        index = cls(**meta["params"])
        index.ids_, index.dim_ = [str(i) for i in meta["ids"]], meta["dim"]
        index.info = dict(meta.get("info") or {})
        index.info_arrays = {k: np.asarray(v) for k, v in store.part(INFO_ARRAYS, arrays).items()}
        index._restore(folder if folder is not None else Path("."), arrays)
        return index

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the index folder atomically (:mod:`retrieval.store`: manifest, arrays, and the
        backend's own files)."""
        return store.save_state(path, KIND, self, extra=self._write_files)

    def _known_ids(self) -> set[str]:
        """The set of ids, kept in step with ``ids_`` (which only ever grows)."""
        if len(self._known) != len(self.ids_):
            self._known.update(self.ids_[len(self._known) :])
        return self._known

    def _ids_array(self, rows: np.ndarray) -> np.ndarray:
        """The ids at ``rows``; the id array is rebuilt only after the index has grown."""
        if len(self._id_array) != len(self.ids_):
            self._id_array = np.asarray(self.ids_, dtype=object)
        return self._id_array[rows]
