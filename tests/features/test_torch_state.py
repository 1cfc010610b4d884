"""The legacy PyTorch reader reads the real weights and runs nothing in a hostile file.

The payloads are made with Python's own pickle here (the package never imports it), and a
control shows that the same bytes, unpickled, would have run.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from retrieval.features.efficientnet_lite import installed_weights_file, variant
from retrieval.features.torch_state import (
    LEGACY_MAGIC,
    UnsafeWeightsError,
    read_legacy_state_dict,
)


@pytest.fixture(scope="module")
def lite0_file() -> Path:
    return installed_weights_file(variant("efficientnet_lite0"))


def headers() -> bytes:
    """The three header pickles of a legacy file (magic, protocol, system information)."""
    out = io.BytesIO()
    for value in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(value, out, protocol=2)
    return out.getvalue()


class Payload:
    """Unpickled, it makes a folder: a stand-in for any code a file could run."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.target),))


def test_reads_every_tensor_of_the_real_weights(lite0_file: Path) -> None:
    state = read_legacy_state_dict(lite0_file)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert (
        state["_bn0.num_batches_tracked"].shape == ()
        and state["_bn0.num_batches_tracked"].dtype == np.int64
    )
    assert (state["_bn1.running_var"] > 0).all()  # variances: the bytes landed where they belong
    assert np.isfinite(state["_conv_head.weight"]).all()


def test_a_planted_reduce_payload_runs_nothing(tmp_path: Path, lite0_file: Path) -> None:
    target = tmp_path / "ran"
    body = pickle.dumps({"_fc.bias": Payload(target)}, protocol=2)
    planted = tmp_path / "planted.pth"
    planted.write_bytes(headers() + body + pickle.dumps([], protocol=2))
    with pytest.raises(UnsafeWeightsError, match=r"the global posix\.mkdir at byte \d+"):
        read_legacy_state_dict(planted)
    assert not target.exists()
    pickle.loads(body)  # the control: the same bytes, unpickled, do run
    assert target.is_dir()


def test_a_payload_inside_a_copy_of_the_real_file_is_refused(
    tmp_path: Path, lite0_file: Path
) -> None:
    """The real file with a reduce spliced in after its header pickles."""
    data = lite0_file.read_bytes()
    stream = io.BytesIO(data)
    for _ in range(3):
        pickle.Unpickler(stream).load()  # header pickles: plain ints and a dict
    target = tmp_path / "ran"
    copy = tmp_path / "copy.pth"
    copy.write_bytes(
        data[: stream.tell()] + pickle.dumps(Payload(target), protocol=2) + data[stream.tell() :]
    )
    with pytest.raises(UnsafeWeightsError, match="posix.mkdir"):
        read_legacy_state_dict(copy)
    assert not target.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x80\x02cbuiltins\neval\nq\x00.", "the global builtins.eval"),
        (b"\x80\x02ctorch\nTensor\nq\x00.", "the global torch.Tensor"),
        (b"\x80\x02c__builtin__\ngetattr\n.", "the global __builtin__.getattr"),
        (b"\x80\x02I1\n.", "pickle opcode b'I'"),  # text opcodes are outside the plain-data set
        (b"\x80\x02]q\x00(K\x01", "the file ends inside a pickle"),
    ],
)
def test_anything_but_plain_data_is_refused(tmp_path: Path, body: bytes, message: str) -> None:
    path = tmp_path / "bad.pth"
    path.write_bytes(headers() + body)
    with pytest.raises(UnsafeWeightsError, match=message) as caught:
        read_legacy_state_dict(path)
    assert str(path) in str(caught.value)


def test_a_truncated_storage_and_a_zip_file_are_named(tmp_path: Path, lite0_file: Path) -> None:
    cut = tmp_path / "cut.pth"
    cut.write_bytes(lite0_file.read_bytes()[:-1000])
    with pytest.raises(UnsafeWeightsError, match="runs past the end of the file"):
        read_legacy_state_dict(cut)
    zipped = tmp_path / "new.pth"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(UnsafeWeightsError, match="zip-format"):
        read_legacy_state_dict(zipped)


def test_strided_tensors_are_rebuilt_from_their_storage(tmp_path: Path) -> None:
    """A transposed view (stride (1, 2)) at an offset, written as torch writes it."""
    import sys
    import types

    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: object) -> None: ...

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, FloatStorage.__module__ = "torch._utils", "torch"
    _rebuild_tensor_v2.__qualname__, FloatStorage.__qualname__ = (
        "_rebuild_tensor_v2",
        "FloatStorage",
    )
    utils._rebuild_tensor_v2, torch.FloatStorage, torch._utils = (
        _rebuild_tensor_v2,
        FloatStorage,
        utils,
    )

    class Tensor:
        def __reduce__(self) -> tuple:
            return (_rebuild_tensor_v2, (Storage(), 1, (3, 2), (1, 3), False, {}))

    class Storage:
        pass

    class Saver(pickle.Pickler):
        def persistent_id(self, obj: object) -> tuple | None:
            return (
                ("storage", FloatStorage, "0", "cpu", 7, None) if isinstance(obj, Storage) else None
            )

    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        out = io.BytesIO()
        Saver(out, protocol=2).dump({"w": Tensor()})
        body = out.getvalue()
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]
    values = np.arange(7, dtype="<f4")
    path = tmp_path / "strided.pth"
    path.write_bytes(
        headers() + body + pickle.dumps(["0"], protocol=2) + struct.pack("<q", 7) + values.tobytes()
    )
    state = read_legacy_state_dict(path)
    np.testing.assert_array_equal(state["w"], values[1:7].reshape(2, 3).T)
