"""Helpers around the engine, off its main API.

==================  =============================================================
``checkpoint.py``   atomic, pickle-free ``.npz`` files of named arrays and metadata
``archive.py``      a stranger's ``.npz`` checked (headers, sizes, names) before
                    any of its data is read
``files.py``        a file a user named, opened once, refused if it is a named
                    pipe, a device, a directory or a symlink loop
``threads.py``      how many threads NumPy's BLAS may use: set, or timed while
                    training (``ThreadTuner``)
``malloc.py``       keep freed memory for the next training step (glibc)
==================  =============================================================
"""
