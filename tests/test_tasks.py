"""The tasks: N-parity and delayed match-to-sample labels against independent oracles,
sampling, and failure paths."""

import functools
import operator

import pytest
import torch

from modgrow.tasks import (curriculum, dms_batch, dms_labels, dms_length_range, length_range,
                           parity_batch, parity_labels, sequence_length_range, task_batch,
                           task_labels)


def xor_oracle(bits: list[int], n: int) -> int:
    """Parity computed a second way: XOR-fold of the last n bits."""
    return functools.reduce(operator.xor, bits[-n:], 0)


@pytest.mark.parametrize("ns", [[1], [2, 3, 4], [7, 2, 11]])
def test_labels_match_xor_oracle(ns):
    g = torch.Generator().manual_seed(1)
    x, y = parity_batch(ns, 64, generator=g)
    assert x.shape[0] == 64 and x.shape[2] == 1 and y.shape == (64, len(ns))
    assert x.dtype == torch.float32 and y.dtype == torch.long
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    for b in range(64):
        bits = [int(v) for v in x[b, :, 0].tolist()]
        assert y[b].tolist() == [xor_oracle(bits, n) for n in ns]


def test_same_seed_same_batch_and_different_seed_differs():
    a = parity_batch([3, 5], 32, generator=torch.Generator().manual_seed(7))
    b = parity_batch([3, 5], 32, generator=torch.Generator().manual_seed(7))
    c = parity_batch([3, 5], 32, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape != c[0].shape or not torch.equal(a[0], c[0])


def test_sequence_length_follows_facts():
    lo, hi = sequence_length_range(10)
    assert (lo, hi) == (12, 27)
    g = torch.Generator().manual_seed(0)
    lengths = {parity_batch([2, 10], 4, generator=g)[0].shape[1] for _ in range(400)}
    assert min(lengths) == lo and max(lengths) == hi - 1
    assert parity_batch([4], 2, seq_len=30)[0].shape[1] == 30


def test_one_bernoulli_rate_per_batch():
    """All samples of a batch share one p ~ U(0,1): batch means spread like U(0,1)
    (variance 1/12), while rows of one batch agree with each other."""
    g = torch.Generator().manual_seed(3)
    means, within = [], []
    for _ in range(300):
        x, _ = parity_batch([5], 128, generator=g, seq_len=200)
        rows = x[:, :, 0].mean(1)
        means.append(rows.mean().item())
        within.append(rows.var().item())
    means = torch.tensor(means)
    assert abs(means.var().item() - 1 / 12) < 0.02
    assert max(within) < 0.25 / 200 * 2  # binomial spread of one rate, not of U(0,1)


def test_fixed_rate_gives_balanced_labels():
    g = torch.Generator().manual_seed(4)
    y = torch.cat([parity_batch([2, 3, 6], 256, generator=g, bit_prob=0.5)[1] for _ in range(20)])
    assert torch.allclose(y.float().mean(0), torch.full((3,), 0.5), atol=0.03)


def test_per_batch_label_balance_matches_formula():
    """P(parity=1) = 1/2 - 1/(2(N+1)) for even N under p ~ U(0,1)."""
    g = torch.Generator().manual_seed(5)
    y = torch.cat([parity_batch([2], 64, generator=g)[1] for _ in range(3000)])
    assert abs(y.float().mean().item() - (0.5 - 1 / 6)) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    (dict(ns=[]), "empty"),
    (dict(ns=[0, 2]), ">= 1"),
    (dict(ns=[5], seq_len=3), "shorter"),
    (dict(ns=[2], bit_prob=1.5), "bit_prob"),
    (dict(ns=[2], batch_size=0), "batch_size"),
])
def test_bad_inputs_raise_clear_errors(kwargs, match):
    kwargs.setdefault("batch_size", 4)
    with pytest.raises(ValueError, match=match):
        parity_batch(**kwargs)


def test_parity_labels_rejects_short_sequence_and_curriculum_bounds():
    with pytest.raises(ValueError, match="shorter"):
        parity_labels(torch.zeros(2, 3, 1), [4])
    assert curriculum(2, 5) == [2, 3, 4, 5]
    with pytest.raises(ValueError):
        curriculum(5, 2)


# ----- delayed match-to-sample --------------------------------------------------------------------

def match_oracle(bits: str, n: int) -> int:
    """DMS computed a second way, on the sequence as a string: the character N places from the end
    against the last one."""
    return int(bits[len(bits) - n] == bits[-1])


@pytest.mark.parametrize("ns", [[2], [2, 3, 4], [9, 2, 5]])
def test_dms_labels_match_string_oracle(ns):
    x, y = dms_batch(ns, 64, generator=torch.Generator().manual_seed(2))
    assert x.shape[0] == 64 and x.shape[2] == 1 and y.shape == (64, len(ns))
    assert x.dtype == torch.float32 and y.dtype == torch.long
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    for b in range(64):
        bits = "".join(str(int(v)) for v in x[b, :, 0].tolist())
        assert y[b].tolist() == [match_oracle(bits, n) for n in ns]


def test_dms_labels_by_hand():
    x = torch.tensor([[0, 1, 1, 0, 1]]).float()[..., None]  # last bit 1
    assert dms_labels(x, [2, 3, 4, 5]).tolist() == [[0, 1, 1, 0]]


def test_dms_classes_are_balanced_and_bits_fair():
    """Every bit is Bernoulli(0.5), so every label is Bernoulli(0.5): over 200 x 256 samples the
    label mean of each N has standard deviation sqrt(1/4 / 51200) = 0.0022, and 0.01 is 4.5 of
    them; the mean of the (over 5 x 10^5) bits has standard deviation below 0.0007."""
    g = torch.Generator().manual_seed(6)
    batches = [dms_batch([2, 3, 7], 256, generator=g) for _ in range(200)]
    y = torch.cat([b[1] for b in batches]).float()
    assert torch.allclose(y.mean(0), torch.full((3,), 0.5), atol=0.01)
    bits = torch.cat([b[0][:, :, 0].flatten() for b in batches])
    assert bits.numel() > 5 * 10 ** 5 and abs(bits.mean().item() - 0.5) < 0.0025


def test_dms_sequence_length_follows_facts():
    lo, hi = dms_length_range(10)
    assert (lo, hi) == (12, 42) and length_range("dms", 10) == (12, 42)
    assert length_range("parity", 10) == sequence_length_range(10)
    g = torch.Generator().manual_seed(0)
    lengths = {dms_batch([2, 10], 2, generator=g)[0].shape[1] for _ in range(1000)}
    assert min(lengths) == lo and max(lengths) == hi - 1
    assert dms_batch([4], 2, seq_len=4)[0].shape[1] == 4


def test_dms_same_seed_same_batch():
    a = dms_batch([3, 5], 16, generator=torch.Generator().manual_seed(7))
    b = dms_batch([3, 5], 16, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(ns=[]), "empty"),
    (dict(ns=[1, 3]), ">= 2"),
    (dict(ns=[5], seq_len=4), "shorter"),
    (dict(ns=[2], batch_size=0), "batch_size"),
])
def test_dms_bad_inputs_raise_clear_errors(kwargs, match):
    kwargs.setdefault("batch_size", 4)
    with pytest.raises(ValueError, match=match):
        dms_batch(**kwargs)


def test_task_dispatch_draws_the_same_batches_and_refuses_nonsense():
    for task, draw, bit_prob in (("parity", parity_batch, "per_batch"), ("dms", dms_batch, 0.5)):
        a = task_batch(task, [2, 4], 8, generator=torch.Generator().manual_seed(1),
                       bit_prob=bit_prob)
        b = draw([2, 4], 8, generator=torch.Generator().manual_seed(1))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert torch.equal(task_labels(task, a[0], [2, 4]), a[1])
    with pytest.raises(ValueError, match="task must be one of"):
        task_batch("copy", [2], 4)
    with pytest.raises(ValueError, match="Bernoulli\\(0.5\\)"):
        task_batch("dms", [2], 4, bit_prob="per_batch")
    with pytest.raises(ValueError, match="shorter"):
        dms_labels(torch.zeros(2, 3, 1), [4])


def test_chapter_1_chance_row_is_computed_from_both_samplings():
    from modgrow.experiments import task as ch1
    from modgrow.profiles import QUICK
    assert ch1.chance_word(0.5, 0.5) == "holds"
    assert ch1.chance_word(0.501, 2 / 3) == "holds partly"
    assert ch1.chance_word(0.6, 0.6) == "fails"
    row = ch1.verdicts(QUICK)[1]
    assert row["verdict"] == "holds partly" and "0.667 at N = 2" in row["this book"]
