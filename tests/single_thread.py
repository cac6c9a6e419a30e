"""An autouse fixture for test modules of tiny models: torch on one thread (much faster on a
busy machine). Use with `from single_thread import one_thread  # noqa: F401`."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
