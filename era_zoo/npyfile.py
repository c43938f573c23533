"""Reading ``.npy`` files from worker threads.

``np.load`` parses a file's header with ``ast.literal_eval``. On CPython
3.11 the AST constructor's recursion counter is shared by all threads, so two
threads parsing at once (the decoding threads reading mels, or a worker and
the main thread's autograph) can fail with "SystemError: AST constructor
recursion depth mismatch" when a garbage-collected finalizer hands the GIL
over mid-parse. :func:`load_npy` reads the same files with a regular
expression instead and gives the same arrays, never a pickled object.
"""
import re
import struct

import numpy as np

_MAGIC = b"\x93NUMPY"
# header length field and text encoding, by format major version
_VERSIONS = {1: ("<H", "latin1"), 2: ("<I", "latin1"), 3: ("<I", "utf8")}
_FIELDS = {
    "descr": re.compile(r"'descr'\s*:\s*'([^']+)'"),
    "fortran_order": re.compile(r"'fortran_order'\s*:\s*(True|False)"),
    # Python 2's NumPy wrote long integers: (48L, 1876L)
    "shape": re.compile(r"'shape'\s*:\s*\(([\dL\s,]*)\)"),
}


def read_header(file):
    """(dtype, shape, fortran_order) of an open ``.npy`` file, left at its
    first data byte.

    Args:
        file: a binary file object at the start of the file.

    Raises:
        ValueError: not a ``.npy`` file, a header this reader does not know
            (a structured dtype), or a dtype that would need pickle.

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> np.save(buffer, np.zeros((48, 3), np.float32))
        >>> _ = buffer.seek(0)
        >>> read_header(buffer)
        (dtype('float32'), (48, 3), False)
    """
    lead = file.read(8)
    if len(lead) < 8 or lead[:6] != _MAGIC:
        raise ValueError("not a .npy file (no NUMPY magic)")
    major = lead[6]
    if major not in _VERSIONS:
        raise ValueError(f".npy format version {major}.{lead[7]} is not known")
    length_format, encoding = _VERSIONS[major]
    raw = _read_header_bytes(file, struct.calcsize(length_format))
    length = struct.unpack(length_format, raw)[0]
    header = _read_header_bytes(file, length).decode(encoding)
    found = {key: pattern.search(header) for key, pattern in _FIELDS.items()}
    missing = [key for key, match in found.items() if match is None]
    if missing:
        raise ValueError(f".npy header {header.strip()!r} lacks a plain {', '.join(missing)}")
    try:
        dtype = np.dtype(found["descr"].group(1))
    except TypeError:
        raise ValueError(f"unknown dtype {found['descr'].group(1)!r} in the .npy header") \
            from None
    if dtype.hasobject:
        raise ValueError("the array holds Python objects, which only pickle can read")
    shape = tuple(int(n.rstrip("L"))
                  for n in found["shape"].group(1).replace(",", " ").split())
    return dtype, shape, found["fortran_order"].group(1) == "True"


def _read_header_bytes(file, size):
    data = file.read(size)
    if len(data) < size:
        raise ValueError("truncated .npy header")
    return data


def load_npy(path, mmap=False):
    """The array in a ``.npy`` file, as ``np.load(path, allow_pickle=False,
    mmap_mode="r" if mmap else None)`` gives it, without Python's parser
    (see the module docstring).

    Args:
        path: the ``.npy`` file.
        mmap: memory-map it read-only (only the parts used are read).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a ``.npy`` file, an unknown header, an object dtype,
            or fewer data bytes than the header promises.

    Example:
        >>> load_npy("melon/arena_mel/0/0.npy", mmap=True).shape  # doctest: +SKIP
        (48, 1876)
    """
    with open(path, "rb") as file:
        dtype, shape, fortran = read_header(file)
        offset = file.tell()
        count = int(np.prod(shape, dtype=np.int64))
        order = "F" if fortran else "C"
        if not mmap or count == 0:  # a memory map cannot be empty
            data = np.fromfile(file, dtype=dtype, count=count)
            if data.size != count:
                raise ValueError(f"truncated .npy data: {data.size} of {count} values")
            return data.reshape(shape, order=order)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
