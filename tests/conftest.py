"""One torch thread per test process and for the processes and kernels it starts: the tests'
tensors are small, and several threads on a busy machine spin instead of working."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n N --dist loadgroup --no-loadscope-reorder`` (``make test``) each test
    file runs on one worker, so that a module-scoped fixture is built once; a test that names its
    own ``xdist_group`` (the quick-profile notebooks, in two groups of a few minutes each) keeps
    it, and those groups go first so that the workers finish together. Without xdist the marker
    is inert."""
    def own_group(item):
        return any(item.iter_markers("xdist_group"))
    items.sort(key=lambda item: 0 if own_group(item) else 1)  # stable: files keep their order
    for item in items:
        if not own_group(item):
            item.add_marker(pytest.mark.xdist_group(item.path.name))
