"""Shared fixtures: every backend-aware test runs on NumPy and on the strict
test device (``array_api_strict``'s ``device1``), plus CuPy when a GPU is there."""
import os
import tempfile

import matplotlib
import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir


import tinyrnn
from tinyrnn.backend import get_backend, BackendError

matplotlib.use("Agg")
os.environ.setdefault("TQDM_DISABLE", "1")
# Property tests draw the same examples on every run and keep no example
# database; hypothesis's own caches go to the temporary folder, not to a
# .hypothesis/ folder in the working directory.
settings.register_profile("tinyrnn", derandomize=True, database=None)
settings.load_profile("tinyrnn")
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "tinyrnn-hypothesis"))


def _available_backends():
    names = ["numpy", "strict"]
    try:
        get_backend("cupy")
        names.append("cupy")
    except BackendError:
        pass
    return names


BACKENDS = _available_backends()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The name of a backend, made the default for the duration of the test."""
    previous = tinyrnn.default_backend().name
    tinyrnn.set_default_backend(request.param)
    tinyrnn.manual_seed(0)
    yield request.param
    tinyrnn.set_default_backend(previous)


@pytest.fixture(autouse=True)
def _seed():
    tinyrnn.manual_seed(0)
    yield
