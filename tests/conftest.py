"""Shared fixtures: every backend-aware test runs on NumPy and on the strict
test device (``array_api_strict``'s ``device1``), plus CuPy when a GPU is there."""
import os

import matplotlib
import pytest

import tinyrnn
from tinyrnn.backend import get_backend, BackendError

matplotlib.use("Agg")
os.environ.setdefault("TQDM_DISABLE", "1")


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
