"""era_zoo.npyfile: .npy files read without Python's parser, array for array
what np.load gives."""
import ast

import numpy as np
import pytest

from era_zoo.npyfile import load_npy

ARRAYS = {
    "mel float32": np.arange(48 * 7, dtype=np.float32).reshape(48, 7),
    "mel float16": np.linspace(-80, 0, 48 * 5).astype(np.float16).reshape(48, 5),
    "big-endian": np.arange(6, dtype=">f8").reshape(2, 3),
    "fortran order": np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
    "1-d": np.arange(5, dtype=np.int64),
    "scalar": np.array(3.5),
    "empty": np.zeros((48, 0), np.float32),
    "bool": np.array([[True, False], [False, True]]),
}


@pytest.fixture()
def no_parser(monkeypatch):
    """Fail any use of Python's parser (np.load's header reader)."""
    def refuse(*args, **kwargs):
        raise AssertionError("ast.parse was called")
    monkeypatch.setattr(ast, "parse", refuse)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_same_arrays_as_np_load(tmp_path, name, version):
    path = tmp_path / "a.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, ARRAYS[name], version=version)
    for mmap in (False, True):
        expected = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        got = load_npy(path, mmap=mmap)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.flags.f_contiguous == expected.flags.f_contiguous
        np.testing.assert_array_equal(got, expected)
        if mmap and expected.size:
            assert isinstance(got, np.memmap)


def test_python2_header(tmp_path):
    """Files NumPy wrote under Python 2 give the shape in long integers."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }"
    header += " " * (117 - len(header)) + "\n"  # with the 10 bytes before it: 128
    path = tmp_path / "py2.npy"
    values = np.arange(6, dtype="<f4")
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                     + header.encode("latin1") + values.tobytes())
    np.testing.assert_array_equal(load_npy(path), values.reshape(2, 3))
    with pytest.warns(UserWarning, match="Python 2"):
        np.testing.assert_array_equal(np.load(path), values.reshape(2, 3))


def test_no_parser_is_used(tmp_path, no_parser):
    path = tmp_path / "m.npy"
    np.save(path, ARRAYS["mel float32"])
    np.testing.assert_array_equal(load_npy(path, mmap=True), ARRAYS["mel float32"])
    with pytest.raises(AssertionError, match="ast.parse"):
        np.load(path)  # the parser np.load would have used


def test_the_mel_readers_of_worker_threads_use_no_parser(tmp_path, no_parser):
    """open_mel (decoding threads, tf.data's mel reader) and the mel cache
    (tf.data threads) read through load_npy."""
    from era_zoo.data.mel_cache import MelCache
    from era_zoo.inference.inputs import open_mel
    mel = ARRAYS["mel float32"]
    path = tmp_path / "m.npy"
    np.save(path, mel)
    np.testing.assert_array_equal(open_mel(path, "melon48"), mel)
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"stands for an audio file: the cache keys on its path, size and time")
    cache = MelCache(tmp_path / "cache", "melon48")
    cache.store(audio, mel)
    np.testing.assert_array_equal(cache.load(audio), mel)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_npy(tmp_path / "missing.npy")
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    with pytest.raises(ValueError, match="magic"):
        load_npy(text)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickle"):
        load_npy(objects)
    structured = tmp_path / "structured.npy"
    np.save(structured, np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    with pytest.raises(ValueError, match="descr"):
        load_npy(structured)
    nonsense = tmp_path / "nonsense.npy"
    header = "{'descr': 'xyz', 'fortran_order': False, 'shape': (2,), }\n"
    nonsense.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
                         + header.encode("latin1"))
    with pytest.raises(ValueError, match="unknown dtype 'xyz'"):
        load_npy(nonsense)
    whole = tmp_path / "whole.npy"
    np.save(whole, ARRAYS["mel float32"])
    data = whole.read_bytes()
    for cut, message in ((len(data) - 4, "truncated .npy data|mmap length"), (20, "header")):
        short = tmp_path / f"short{cut}.npy"
        short.write_bytes(data[:cut])
        for mmap in (False, True):
            with pytest.raises(ValueError, match=message):
                load_npy(short, mmap=mmap)
