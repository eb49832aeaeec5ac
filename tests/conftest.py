"""One torch thread per test process and for the processes and kernels it starts: the tests'
tensors are small, and several threads on a busy machine spin instead of working."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
