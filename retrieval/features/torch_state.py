"""Read a PyTorch state dict saved in the legacy (non-zip) format, without running any code.

A legacy ``.pth`` is five pickles back to back (a magic number, the protocol version, system
information, the state dict, the list of storage keys) followed by each storage's raw bytes
(an int64 element count, then the little-endian elements). A pickle is a small program that
may call any function it names, so this module does not unpickle: it interprets the opcodes
itself with a stack machine that knows exactly three callables, ``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and ``torch._utils._rebuild_parameter``, and the storage
types. Any other global, or an opcode outside the plain-data set, is refused with
:class:`UnsafeWeightsError` naming it and its byte offset; nothing in the file is ever called.
Tensors come back as NumPy arrays; PyTorch is not needed.

Examples
--------
>>> from retrieval.features.torch_state import read_legacy_state_dict   # doctest: +SKIP
>>> state = read_legacy_state_dict("efficientnet-lite0-57934424.pth")   # doctest: +SKIP
>>> state["_conv_stem.weight"].shape                                      # doctest: +SKIP
(32, 3, 3, 3)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeWeightsError(RetrievalError):
    """A weights file that is not a plain legacy state dict (or asks to run code)."""


@dataclass(frozen=True)
class _Global:
    """A name the file refers to; only the allow-listed ones exist."""

    module: str
    name: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _Mark:
    """The stack marker of the MARK opcode."""


_MARK = _Mark()
_ORDERED_DICT = _Global("collections", "OrderedDict")
_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
ALLOWED_GLOBALS = frozenset(
    {_ORDERED_DICT, _REBUILD_TENSOR, _REBUILD_PARAMETER}
    | {_Global("torch", name) for name in STORAGE_DTYPES}
)


class _Reader:
    """Interprets one pickle of plain data starting at ``offset`` of ``data``."""

    def __init__(self, data: memoryview, offset: int, source: Path) -> None:
        self.data, self.pos, self.source = data, offset, source
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}

    def refuse(self, what: str, at: int) -> UnsafeWeightsError:
        return UnsafeWeightsError(
            f"{self.source}: {what} at byte {at}; only a plain PyTorch state dict is read "
            "(nothing in the file is run)"
        )

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.refuse("the file ends inside a pickle", self.pos)
        chunk = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def pop_mark(self) -> list[Any]:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        raise self.refuse("a pickle without its MARK", self.pos)

    def pop(self) -> Any:
        if not self.stack:
            raise self.refuse("a pickle that pops an empty stack", self.pos)
        return self.stack.pop()

    def read(self) -> Any:
        """Run opcodes up to STOP; the value left on the stack."""
        while True:
            at = self.pos
            op = self.take(1)
            handler = _OPCODES.get(op)
            if handler is None:
                raise self.refuse(f"pickle opcode {op!r} (not plain data)", at)
            if handler(self, at):
                return self.pop()

    def string(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise self.refuse("a string that is not UTF-8", self.pos) from None

    def push_global(self, module: str, name: str, at: int) -> None:
        found = _Global(module, name)
        if found not in ALLOWED_GLOBALS:
            raise self.refuse(f"the global {module}.{name}", at)
        self.stack.append(found)

    def reduce(self, at: int) -> None:
        args = self.pop()
        func = self.pop()
        if not isinstance(args, tuple):
            raise self.refuse("a call whose arguments are not a tuple", at)
        if func == _ORDERED_DICT and not args:
            self.stack.append({})
        elif func == _REBUILD_TENSOR and 4 <= len(args) <= 7:
            storage, offset, size, stride = args[:4]
            if not (isinstance(storage, _Storage) and isinstance(offset, int)):
                raise self.refuse("a tensor rebuilt from something other than a storage", at)
            if not all(
                isinstance(v, tuple) and all(isinstance(i, int) for i in v) for v in (size, stride)
            ):
                raise self.refuse("a tensor whose size or stride is not a tuple of ints", at)
            if len(size) != len(stride):
                raise self.refuse("a tensor whose size and stride differ in length", at)
            self.stack.append(_Tensor(storage, offset, size, stride))
        elif func == _REBUILD_PARAMETER and args and isinstance(args[0], _Tensor):
            self.stack.append(args[0])
        else:
            name = (
                f"{func.module}.{func.name}" if isinstance(func, _Global) else type(func).__name__
            )
            raise self.refuse(f"a call of {name} with {len(args)} arguments", at)

    def persistent(self, at: int) -> None:
        pid = self.pop()
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise self.refuse("a persistent id that is not a storage", at)
        kind, key, numel = pid[1], pid[2], pid[4]
        if not (
            isinstance(kind, _Global) and kind.module == "torch" and kind.name in STORAGE_DTYPES
        ):
            raise self.refuse(f"a storage of type {kind!r}", at)
        if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise self.refuse("a storage with a malformed key or size", at)
        self.stack.append(_Storage(key, STORAGE_DTYPES[kind.name], numel))

    def build(self, at: int) -> None:
        state = self.pop()
        target = self.stack[-1] if self.stack else None
        if not isinstance(target, dict) or not isinstance(state, dict | type(None)):
            raise self.refuse("object state set on something other than a dict", at)
        # an OrderedDict's attributes (torch's ``_metadata``): plain data, not needed


def _setitems(reader: _Reader, items: list[Any], at: int) -> None:
    target = reader.stack[-1] if reader.stack else None
    if not isinstance(target, dict) or len(items) % 2:
        raise reader.refuse("dictionary items set on something other than a dict", at)
    for key, value in zip(items[::2], items[1::2], strict=True):
        try:
            target[key] = value
        except TypeError:
            raise reader.refuse("an unhashable dictionary key", at) from None


def _appends(reader: _Reader, items: list[Any], at: int) -> None:
    target = reader.stack[-1] if reader.stack else None
    if not isinstance(target, list):
        raise reader.refuse("list items appended to something other than a list", at)
    target.extend(items)


def _memo_get(reader: _Reader, index: int, at: int) -> None:
    if index not in reader.memo:
        raise reader.refuse(f"memo entry {index} read before it was written", at)
    reader.stack.append(reader.memo[index])


def _memo_put(reader: _Reader, index: int, at: int) -> None:
    if not reader.stack:
        raise reader.refuse("a memo write from an empty stack", at)
    reader.memo[index] = reader.stack[-1]


def _stack_global(r: _Reader, at: int) -> None:
    name, module = r.pop(), r.pop()
    if not (isinstance(module, str) and isinstance(name, str)):
        raise r.refuse("a global named by something other than strings", at)
    r.push_global(module, name, at)


def _global(r: _Reader, at: int) -> None:
    module = _line(r)
    r.push_global(module, _line(r), at)


def _line(r: _Reader) -> str:
    end = bytes(r.data[r.pos : r.pos + 256]).find(b"\n")
    if end < 0:
        raise r.refuse("a global name without its line end", r.pos)
    text = r.take(end + 1)[:-1]
    return text.decode("ascii", errors="replace")


def _op(fn: Any) -> Any:
    """An opcode handler that never stops the pickle."""

    def handler(r: _Reader, at: int) -> bool:
        fn(r, at)
        return False

    return handler


_OPCODES: dict[bytes, Any] = {
    b"\x80": _op(lambda r, at: r.take(1)),  # PROTO
    b"\x95": _op(lambda r, at: r.take(8)),  # FRAME
    b".": lambda r, at: True,  # STOP
    b"(": _op(lambda r, at: r.stack.append(_MARK)),
    b"0": _op(lambda r, at: r.pop()),  # POP
    b"1": _op(lambda r, at: r.pop_mark()),  # POP_MARK
    b"N": _op(lambda r, at: r.stack.append(None)),
    b"\x88": _op(lambda r, at: r.stack.append(True)),
    b"\x89": _op(lambda r, at: r.stack.append(False)),
    b"J": _op(lambda r, at: r.stack.append(r.unpack("<i"))),  # BININT
    b"K": _op(lambda r, at: r.stack.append(r.unpack("<B"))),  # BININT1
    b"M": _op(lambda r, at: r.stack.append(r.unpack("<H"))),  # BININT2
    b"\x8a": _op(  # LONG1
        lambda r, at: r.stack.append(int.from_bytes(r.take(r.unpack("<B")), "little", signed=True))
    ),
    b"G": _op(lambda r, at: r.stack.append(r.unpack(">d"))),  # BINFLOAT
    b"X": _op(lambda r, at: r.stack.append(r.string(r.unpack("<I")))),  # BINUNICODE
    b"\x8c": _op(lambda r, at: r.stack.append(r.string(r.unpack("<B")))),  # SHORT_BINUNICODE
    b"U": _op(lambda r, at: r.stack.append(r.take(r.unpack("<B")).decode("latin-1"))),
    b"T": _op(lambda r, at: r.stack.append(r.take(r.unpack("<I")).decode("latin-1"))),
    b"C": _op(lambda r, at: r.stack.append(r.take(r.unpack("<B")))),  # SHORT_BINBYTES
    b")": _op(lambda r, at: r.stack.append(())),
    b"t": _op(lambda r, at: r.stack.append(tuple(r.pop_mark()))),
    b"\x85": _op(lambda r, at: r.stack.append((r.pop(),))),
    b"\x86": _op(lambda r, at: r.stack.append(tuple(reversed([r.pop(), r.pop()])))),
    b"\x87": _op(lambda r, at: r.stack.append(tuple(reversed([r.pop(), r.pop(), r.pop()])))),
    b"]": _op(lambda r, at: r.stack.append([])),
    b"l": _op(lambda r, at: r.stack.append(r.pop_mark())),  # LIST
    b"a": _op(lambda r, at: _appends(r, [r.pop()], at)),  # APPEND
    b"e": _op(lambda r, at: _appends(r, r.pop_mark(), at)),  # APPENDS
    b"}": _op(lambda r, at: r.stack.append({})),
    b"s": _op(lambda r, at: _setitems(r, list(reversed([r.pop(), r.pop()])), at)),  # SETITEM
    b"u": _op(lambda r, at: _setitems(r, r.pop_mark(), at)),  # SETITEMS
    b"q": _op(lambda r, at: _memo_put(r, r.unpack("<B"), at)),  # BINPUT
    b"r": _op(lambda r, at: _memo_put(r, r.unpack("<I"), at)),  # LONG_BINPUT
    b"\x94": _op(lambda r, at: _memo_put(r, len(r.memo), at)),  # MEMOIZE
    b"h": _op(lambda r, at: _memo_get(r, r.unpack("<B"), at)),  # BINGET
    b"j": _op(lambda r, at: _memo_get(r, r.unpack("<I"), at)),  # LONG_BINGET
    b"c": _op(_global),  # GLOBAL
    b"\x93": _op(_stack_global),  # STACK_GLOBAL
    b"R": _op(lambda r, at: r.reduce(at)),  # REDUCE
    b"Q": _op(lambda r, at: r.persistent(at)),  # BINPERSID
    b"b": _op(lambda r, at: r.build(at)),  # BUILD
}


def read_legacy_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format PyTorch state dict, as NumPy arrays, by name.

    Raises :class:`UnsafeWeightsError` (naming the file and the byte) for anything that is
    not a plain state dict: a zip-format file, an unknown global or opcode, a truncated file.
    """
    source = Path(path)
    data = memoryview(source.read_bytes())
    if bytes(data[:2]) == b"PK":
        raise UnsafeWeightsError(
            f"{source}: a zip-format PyTorch file; only the legacy format is read here"
        )
    reader = _Reader(data, 0, source)
    if reader.read() != LEGACY_MAGIC:
        raise UnsafeWeightsError(f"{source}: not a legacy PyTorch file (no magic number)")
    if reader.read() != LEGACY_PROTOCOL:
        raise UnsafeWeightsError(f"{source}: unknown PyTorch protocol version")
    info = reader.read()
    if not isinstance(info, dict) or not info.get("little_endian", True):
        raise UnsafeWeightsError(f"{source}: system information missing, or big-endian")
    state = reader.read()
    keys = reader.read()
    if not isinstance(state, dict) or not all(isinstance(v, _Tensor) for v in state.values()):
        raise UnsafeWeightsError(f"{source}: the saved object is not a dict of tensors")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise UnsafeWeightsError(f"{source}: the storage key list is malformed")
    storages = _read_storages(data, reader.pos, keys, state, source)
    return {str(name): _tensor_array(t, storages, source, name) for name, t in state.items()}


def _read_storages(
    data: memoryview, pos: int, keys: list[str], state: dict, source: Path
) -> dict[str, np.ndarray]:
    dtypes = {t.storage.key: t.storage.dtype for t in state.values()}
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in dtypes:
            raise UnsafeWeightsError(f"{source}: storage {key} is used by no tensor")
        if pos + 8 > len(data):
            raise UnsafeWeightsError(f"{source}: the file ends before storage {key}")
        (numel,) = struct.unpack("<q", data[pos : pos + 8])
        size = numel * dtypes[key].itemsize
        if numel < 0 or pos + 8 + size > len(data):
            raise UnsafeWeightsError(f"{source}: storage {key} runs past the end of the file")
        storages[key] = np.frombuffer(data, dtype=dtypes[key], count=numel, offset=pos + 8)
        pos += 8 + size
    return storages


def _tensor_array(
    tensor: _Tensor, storages: dict[str, np.ndarray], source: Path, name: str
) -> np.ndarray:
    storage = storages.get(tensor.storage.key)
    if storage is None:
        raise UnsafeWeightsError(f"{source}: tensor {name} uses a storage that is not in the file")
    if not tensor.size:
        last = tensor.offset
    elif min(tensor.size) == 0:
        return np.zeros(tensor.size, dtype=storage.dtype)
    else:
        last = tensor.offset + sum(
            (n - 1) * s for n, s in zip(tensor.size, tensor.stride, strict=True)
        )
    if tensor.offset < 0 or min(tensor.stride, default=0) < 0 or last >= len(storage):
        raise UnsafeWeightsError(f"{source}: tensor {name} reaches outside its storage")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[tensor.offset :],
        shape=tensor.size,
        strides=tuple(s * item for s in tensor.stride),
        writeable=False,
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))
