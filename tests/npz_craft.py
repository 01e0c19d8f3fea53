"""Building hand-made (hostile) .npz files for the checkpoint tests.

An .npz is a zip of .npy members; a .npy member is a header (magic, version,
a dict literal with descr, fortran_order, shape) followed by the raw data.
These helpers write exactly the bytes a test asks for, valid or not.
"""
import io
import json
import zipfile

import numpy as np

from tinyrnn.utils.checkpoint import FORMAT, META_KEY, VERSION


def npy_header(descr: str, shape: tuple, fortran_order: bool = False,
               version: tuple = (1, 0)) -> bytes:
    """The bytes of a .npy header declaring ``descr`` and ``shape`` (no data)."""
    f = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran_order, "shape": tuple(shape)}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(f, header)
    else:
        np.lib.format.write_array_header_2_0(f, header)
    return f.getvalue()


def npy(array) -> bytes:
    """The bytes np.save writes for ``array``."""
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
    return f.getvalue()


def meta_npy(meta: dict | None = None) -> bytes:
    """A valid ``__meta__`` member holding ``meta``."""
    return npy(np.array(json.dumps({"format": FORMAT, "version": VERSION,
                                    "meta": meta or {}})))


def write_npz(path, members: dict, compression=zipfile.ZIP_STORED) -> None:
    """A zip of ``{member name (without .npy): bytes}``; ``__meta__`` added unless given."""
    if META_KEY not in members:
        members = {META_KEY: meta_npy(), **members}
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for key, data in members.items():
            archive.writestr(key + ".npy", data)
