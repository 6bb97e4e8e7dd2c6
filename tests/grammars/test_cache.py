"""The table cache: arrays come back as written, and a damaged file reads as a miss."""

from __future__ import annotations

import numpy as np

from lmc.grammars.cache import SUFFIX, load_arrays, save_arrays


def test_round_trip_keeps_dtype_shape_and_values(tmp_path) -> None:
    arrays = {
        "scalar": np.array(193),
        "empty": np.zeros(0, dtype=np.uint8),
        "strided": np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2],
        "flags": np.array([True, False]),
        "packed": np.random.default_rng(0).integers(0, 256, size=(5, 7), dtype=np.uint8),
    }
    save_arrays(tmp_path, "k", arrays)
    loaded = load_arrays(tmp_path, "k")
    assert loaded is not None and list(loaded) == list(arrays)
    for name, a in arrays.items():
        assert loaded[name].dtype == a.dtype and loaded[name].shape == a.shape
        np.testing.assert_array_equal(loaded[name], a)
    assert loaded["packed"].flags.writeable


def test_damaged_or_missing_files_are_misses(tmp_path) -> None:
    save_arrays(tmp_path, "k", {"a": np.arange(10)})
    path = tmp_path / f"k{SUFFIX}"
    good = path.read_bytes()
    for damaged in (good[:-1], good + b"\x00", good[:12], b"", b"PK\x03\x04 an old npz"):
        path.write_bytes(damaged)
        assert load_arrays(tmp_path, "k") is None
    assert load_arrays(tmp_path, "absent") is None
