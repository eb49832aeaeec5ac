"""Chapter 4's length test: factor 1 is the one longest trained length (not the criterion's range
of lengths), and each factor evaluates every head at that many times this length."""

from unittest import mock

import torch

from modgrow import compare
from modgrow.tasks import length_range
from modgrow.training import GrowthConfig, new_network


def test_length_generalisation_measures_at_multiples_of_the_longest_trained_length():
    cfg = GrowthConfig(module_size=5, max_n=3)
    net = new_network(cfg, torch.Generator().manual_seed(0))
    lo, hi = length_range(cfg.task, cfg.n_start)
    seen = []
    real = compare.evaluate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("seq_len"))
        return real(*args, **kwargs)
    with mock.patch.object(compare, "evaluate", spy):
        out = compare.length_generalisation(net, cfg, factors=(1, 3), n_batches=1)
    assert hi - lo > 1  # training draws from a range of lengths ...
    assert out["longest_trained"] == hi - 1  # ... and factor 1 is its longest only
    assert seen == [hi - 1, 3 * (hi - 1)]
    assert list(out["accuracy"]) == ["1", "3"]
    assert list(out["accuracy"]["1"]) == [str(cfg.n_start)]
