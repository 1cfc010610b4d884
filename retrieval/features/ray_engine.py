"""Feature extraction on a Ray cluster: decoding as CPU tasks, the network in an actor pool.

The work is cut exactly as the local engine cuts it: per shard, the readable pictures in
input order, in batches of the compiled batch size (the last one padded with black
pictures). Each batch is one row of a Ray Data pipeline:

1. ``decode_batch`` (a CPU task): the batch's paths -> ``(batch, size, size, 3)`` uint8
   pixels and one reason per bad file;
2. ``NetworkActor`` (an actor pool: one actor per GPU, or ``actors`` CPU actors): the same
   compiled network call as the local engine on that uint8 batch -> float32 rows.

So every row is computed from the same pixels in the same batch shape as on one machine,
and the two engines write the same features. The driver gathers the batches of each shard
and hands a shard on as soon as all of its batches are in; a worker that dies costs the
batches it held, which Ray runs again (tasks are retried, actors restarted).

Examples
--------
>>> spec = NetworkSpec("efficientnet_lite0")
>>> spec.model, spec.weights
('efficientnet_lite0', 'imagenet')
>>> [b.size for b in plan_batches([[Path("a.jpg"), Path("b.jpg"), Path("c.jpg")]], batch_size=32)]
[4]
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

_log = logging.getLogger(__name__)

INSTALL = "pip install 'retrieval[ray]'"


class RayUnavailableError(RetrievalError):
    """Ray is not installed, or no cluster answers at the address given."""


def import_ray() -> Any:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data, used as ray.data)
    except ImportError:
        raise RayUnavailableError(f"the Ray engine needs Ray: {INSTALL}") from None
    return ray


@dataclass(frozen=True)
class NetworkSpec:
    """The network every actor builds: ``model`` is ``resnet50``, ``efficientnet_liteN`` or
    ``clip:PRESET_OR_FOLDER``; the other fields as in
    :func:`~retrieval.features.extract_features`."""

    model: str = "resnet50"
    weights: str | None = "imagenet"
    seed: int = 0
    precision: str = "float32"
    fc1000: bool = False
    jit_compile: bool | str = "auto"

    @property
    def is_clip(self) -> bool:
        return self.model == "clip" or self.model.startswith("clip:")

    def build(self) -> Any:
        """The :class:`~retrieval.features._extract.ImageNetwork` (built once per process)."""
        if self.is_clip:
            from retrieval.features.clip import clip_encoder, parse_model_spec

            return clip_encoder(parse_model_spec(self.model)).images
        from retrieval.features._extract import get_model

        return get_model(self.weights, self.fc1000, self.seed, self.precision, self.model)

    def picture(self) -> dict[str, Any]:
        """How pictures are decoded for this network (``size``, ``crop``, ``resample``)."""
        if self.is_clip:
            tower = self.build()
            return {"size": tower.input_size, "crop": tower.crop, "resample": tower.resample}
        from retrieval.features.networks import picture_settings

        return picture_settings(self.model)

    def dim(self) -> int:
        """The width of the network's rows."""
        if self.is_clip:
            return int(self.build().dim)
        from retrieval.features.networks import network_dim

        return network_dim(self.model)


@dataclass(frozen=True)
class BatchPlan:
    """One compiled call's worth of work: shard ``shard``'s batch ``index``."""

    shard: int
    index: int
    paths: list[str]
    size: int  # the compiled batch shape (the paths padded to it)


@dataclass
class ShardPlan:
    """A shard's inputs as the local engine reads them: ``kept`` (readable, in input order,
    repeats too), ``todo`` (each readable picture once) and the unreadable ones."""

    number: int
    chunk: list[Path]
    kept: list[Path] = field(default_factory=list)
    todo: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def plan_shard(number: int, chunk: Sequence[Path]) -> ShardPlan:
    """Which of ``chunk`` can be read, as :func:`~retrieval.features.extract_features` decides."""
    from retrieval.features._extract import readable

    plan = ShardPlan(number, [Path(p) for p in chunk])
    keys, plan.failures = readable(plan.chunk)
    plan.kept = [p for p in plan.chunk if p in keys]
    plan.todo = list(keys)
    return plan


def plan_batches(todo_per_shard: Sequence[Sequence[Path]], batch_size: int) -> list[BatchPlan]:
    """Each shard's pictures in batches, with the local engine's batch shape: ``batch_size``,
    or the smallest power of two that holds a shorter shard."""
    from retrieval.features._extract import call_batch_size

    batches = []
    for shard, todo in enumerate(todo_per_shard):
        if not todo:
            continue
        size = call_batch_size(batch_size, len(todo))
        for index, start in enumerate(range(0, len(todo), size)):
            paths = [str(p) for p in todo[start : start + size]]
            batches.append(BatchPlan(shard, index, paths, size))
    return batches


def decode_batch(batch: dict[str, np.ndarray], picture: dict[str, Any], draft: bool) -> dict:
    """Ray Data task: each row's paths -> padded uint8 pixels and a reason per bad file."""
    from retrieval.features._decode import decode_rows

    out: dict[str, list] = {"shard": [], "index": [], "pixels": [], "reasons": []}
    for shard, index, paths, size in zip(
        batch["shard"], batch["index"], batch["paths"], batch["size"], strict=True
    ):
        size = int(size)
        pixels = np.zeros((1, size, picture["size"], picture["size"], 3), np.uint8)
        reasons = decode_rows(
            pixels,
            0,
            0,
            [str(p) for p in paths],
            draft,
            crop=picture["crop"],
            resample=picture["resample"],
        )
        out["shard"].append(int(shard))
        out["index"].append(int(index))
        out["pixels"].append(pixels[0])
        out["reasons"].append(json.dumps(reasons))  # "" per good file
    return {
        "shard": np.array(out["shard"]),
        "index": np.array(out["index"]),
        "pixels": np.stack(out["pixels"]),
        "reasons": np.array(out["reasons"], dtype=object),
    }


class NetworkActor:
    """Ray Data actor: builds the network once, then runs its compiled call on each batch."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.network = spec.build()
        self.jit_compile = spec.jit_compile
        self.calls: dict[int, Any] = {}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows, logits = [], []
        for pixels in batch["pixels"]:
            size = int(pixels.shape[0])
            if size not in self.calls:
                self.calls[size] = self.network.compiled(size, jit_compile=self.jit_compile)
            call = self.calls[size]
            pool5, fc = self.network.split(call.fetch(call.submit(np.ascontiguousarray(pixels))))
            rows.append(pool5)
            logits.append(fc if fc is not None else np.zeros((size, 0), np.float32))
        return {
            "shard": batch["shard"],
            "index": batch["index"],
            "reasons": batch["reasons"],
            "rows": np.stack(rows),
            "logits": np.stack(logits),
        }


def actor_for(spec: NetworkSpec) -> type[NetworkActor]:
    """A :class:`NetworkActor` class that builds ``spec``: the spec travels with the class,
    so Ray restarts a lost actor (Ray Data restarts them without limit, and retries its
    batches) without constructor arguments that could be gone from the object store."""

    class SpecNetworkActor(NetworkActor):
        def __init__(self) -> None:
            super().__init__(spec)

    return SpecNetworkActor


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """``ray``, joined to the cluster at ``address`` (``auto``, ``HOST:PORT``,
    ``ray://HOST:PORT``; None: ``$RAY_ADDRESS``, else a cluster started for the run). A
    connection made here is closed at the end; one the caller made is left open."""
    ray = import_ray()
    # our own progress bar and one-line errors, not Ray Data's plan, bars and timings
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            log_to_driver=False,
            include_dashboard=False,
            configure_logging=False,
        )
    except ConnectionError as exc:
        raise RayUnavailableError(f"--address {address}: no Ray cluster answers ({exc})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass
class _Gathered:
    """The batches of one shard as they come back."""

    plan: ShardPlan
    batches: int
    received: dict[int, tuple[list[str], np.ndarray, np.ndarray | None]] = field(
        default_factory=dict
    )


def _result(gathered: _Gathered, batch_paths: dict[int, list[str]], dim: int) -> Any:
    """The shard's :class:`~retrieval.features._extract.ExtractionResult`, as the local
    engine returns it: rows of the readable pictures in input order (repeats too)."""
    from retrieval.features._extract import ExtractionResult

    plan = gathered.plan
    rows: dict[Path, np.ndarray] = {}
    logits: dict[Path, np.ndarray] = {}
    failures = list(plan.failures)
    for index in sorted(gathered.received):
        reasons, pool5, fc = gathered.received[index]
        for offset, (path, reason) in enumerate(zip(batch_paths[index], reasons, strict=True)):
            if reason:
                failures.append((Path(path), reason))
            else:
                rows[Path(path)] = pool5[offset]
                if fc is not None and fc.shape[1]:
                    logits[Path(path)] = fc[offset]
    ok = [p for p in plan.kept if p in rows]
    pool5_all = np.stack([rows[p] for p in ok]) if ok else np.zeros((0, dim), np.float32)
    fc_all = np.stack([logits[p] for p in ok]) if ok and logits else None
    return ExtractionResult(ok, pool5_all, fc_all, failures)


def extract_shards(
    shards: Sequence[tuple[int, Sequence[Path]]],
    spec: NetworkSpec,
    *,
    address: str | None = None,
    batch_size: int | None = None,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    decode_cpus: float = 1.0,
    draft: bool = True,
    progress: bool | None = None,
) -> Iterator[tuple[int, list[Path], Any]]:
    """Extract each ``(number, paths)`` shard on Ray; yields ``(number, paths, result)`` as
    each shard completes (in any order), ``result`` as
    :func:`~retrieval.features.extract_features` would return it for those paths.

    ``actors``: network actors (default: one per GPU of the cluster, else its CPUs less one
    for decoding, at least 1); ``gpus_per_actor``: GPUs each actor holds (default 1 when the
    cluster has GPUs, else 0). ``batch_size`` defaults to 256 with GPUs, 32 without.
    ``decode_cpus``: CPUs each decoding task holds beside GPU actors (beside CPU actors it
    holds none, and at most one runs per CPU). ``draft`` as in
    :func:`~retrieval.features.extract_features`.
    """
    from retrieval.features._compiled import ACCELERATOR_BATCH, CPU_BATCH
    from retrieval.progress import progress_bar

    plans = [plan_shard(number, chunk) for number, chunk in shards]
    for plan in [p for p in plans if not p.todo]:  # nothing to decode: done at once
        yield plan.number, plan.chunk, _result(_Gathered(plan, 0), {}, spec.dim())
    plans = [p for p in plans if p.todo]
    if not plans:
        return
    with connected(address) as ray:
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        if gpus_per_actor is None:
            gpus_per_actor = 1.0 if gpus else 0.0
        cpus = int(resources.get("CPU", 1))
        if actors is None:
            actors = max(1, int(gpus // gpus_per_actor) if gpus_per_actor else cpus - 1)
        batch_size = batch_size or (ACCELERATOR_BATCH if gpus_per_actor else CPU_BATCH)
        batches = plan_batches([p.todo for p in plans], batch_size)
        picture = spec.picture()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # workers read absolute paths (their working folder is Ray's); on a cluster of several
        # machines, every node sees the pictures at the same paths (a shared file system)
        items = [
            {
                "shard": b.shard,
                "index": b.index,
                "paths": [os.path.abspath(p) for p in b.paths],
                "size": b.size,
            }
            for b in batches
        ]
        dataset = (
            ray.data.from_items(items, override_num_blocks=len(items))
            .map_batches(
                decode_batch,
                batch_size=1,
                # with GPU actors, decoding is what the CPUs are for; with CPU actors, decoding
                # holds no CPU of its own, so that actors restarted after a lost node can never
                # hold every CPU while decoding waits for one (a deadlock), and runs at most
                # one task per CPU of the cluster beside them
                num_cpus=decode_cpus if gpus_per_actor else 0,
                concurrency=None if gpus_per_actor else max(1, cpus),
                fn_kwargs={"picture": picture, "draft": draft},
                # the batch's pixels, and Pillow's full-size decode of a few pictures beside them;
                # a memory need of their own also keeps decoding in tasks, not fused into the actors
                memory=4 * batch_size * picture["size"] ** 2 * 3 + 256 * 2**20,
            )
            .map_batches(
                actor_for(spec),
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=0 if gpus_per_actor else 1,
                num_gpus=gpus_per_actor,
            )
        )
        paths_of = {(b.shard, b.index): b.paths for b in batches}
        gathered = [
            _Gathered(plan, sum(1 for b in batches if b.shard == position))
            for position, plan in enumerate(plans)
        ]
        dim = 0
        with progress_bar(
            total=sum(len(p.todo) for p in plans),
            desc="features (ray)",
            unit="img",
            disable=None if progress is None else not progress,
        ) as bar:
            for row in dataset.iter_rows():
                shard, index = int(row["shard"]), int(row["index"])
                paths = paths_of[(shard, index)]
                reasons = json.loads(str(row["reasons"]))
                rows = np.asarray(row["rows"], np.float32)[: len(paths)]
                logits = np.asarray(row["logits"], np.float32)[: len(paths)]
                dim = rows.shape[1]
                entry = gathered[shard]
                entry.received[index] = (reasons, rows, logits if logits.shape[1] else None)
                bar.update(len(paths))
                if len(entry.received) == entry.batches:
                    batch_paths = {i: paths_of[(shard, i)] for i in entry.received}
                    yield entry.plan.number, entry.plan.chunk, _result(entry, batch_paths, dim)
                    entry.received.clear()  # its rows are written: keep memory to the open shards


def extract_on_ray(
    paths: Sequence[str | os.PathLike[str]], spec: NetworkSpec, **options: Any
) -> Any:
    """All of ``paths`` as one :class:`~retrieval.features._extract.ExtractionResult`,
    extracted on Ray (``options`` as in :func:`extract_shards`)."""
    chunk = [Path(p) for p in paths]
    for _, _, result in extract_shards([(0, chunk)], spec, **options):
        return result
    raise AssertionError("extract_shards yields every shard it is given")


def _spec(
    model: str = "resnet50",
    weights: str | os.PathLike[str] | None = "imagenet",
    seed: int = 0,
    precision: str = "float32",
    fc1000: bool = False,
    jit_compile: bool | str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    network: Any = None,
    workers: int | None = None,
    decoder: str = "auto",
    prefetch: int | None = None,
) -> NetworkSpec:
    """The network that :func:`retrieval.features.extract_features`' options name, read as
    the Ray engine reads them (the local decoders' ``workers``, ``decoder`` and ``prefetch``
    do not apply)."""
    if cache_dir is not None:
        raise ValueError(
            "engine='ray' resumes by shards (write_shards), not by a per-file cache: "
            "leave cache_dir out"
        )
    if network is not None:
        raise ValueError("engine='ray' builds its network on each actor: name it with model=")
    return NetworkSpec(
        model, None if weights is None else str(weights), seed, precision, fc1000, jit_compile
    )


_SHARD_OPTIONS = ("address", "batch_size", "actors", "gpus_per_actor", "decode_cpus", "draft")


def _split(options: dict[str, Any]) -> tuple[NetworkSpec, dict[str, Any]]:
    """``extract_features``' options as the network's spec and :func:`extract_shards`' own."""
    own = {k: options.pop(k) for k in [*_SHARD_OPTIONS, "progress"] if k in options}
    return _spec(**options), own


def extract_features_on_ray(paths: Sequence[str | os.PathLike[str]], **options: Any) -> Any:
    """:func:`retrieval.features.extract_features` with ``engine="ray"`` (its options; ``out``
    is written once every row is in)."""
    from retrieval.fileio import save_npy

    out = options.pop("out", None)
    spec, own = _split(options)
    result = extract_on_ray(paths, spec, **own)
    if out is not None:
        save_npy(out, result.pool5)
    return result


def shard_engine(**options: Any) -> Any:
    """The ``engine`` of :func:`~retrieval.features.shards.write_shards` that extracts with
    ``extract_features``' ``options`` on Ray."""
    spec, own = _split(options)

    def engine(pending: list[tuple[int, list[Path]]]) -> Iterator[tuple[int, list[Path], Any]]:
        return extract_shards(pending, spec, **own)

    return engine
