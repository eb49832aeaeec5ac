"""The neuron model and the network: the update equation, the engine (recording and replacement
weights included), growth operations."""

import copy

import pytest
import torch

from modgrow import engine
from modgrow.engine import LEAK_SLOPE, reference_final_states
from modgrow.network import RNN, count_parameters


def scan(net, x, h0, lo=0, hi=None, ff_in=None, keep_last=False):
    r = engine.run(net, x, h0, lo, hi, ff_in=ff_in, keep_feed=keep_last)
    return r.finals, r.feed


def grown(module_size=3, blocks=3, seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    net = RNN(module_size, g)
    for _ in range(blocks - 1):
        net.add_block(source=net.block_parameters(-1), noise=noise, generator=g)
    for b in range(blocks):
        net.add_head(b, g)
    return net, g


def scalar_step(net, hs, bit):
    """The equation neuron by neuron with Python floats."""
    out = []
    for d, blk in enumerate(net.blocks):
        m = net.module_size
        new = []
        for i in range(m):
            drive = blk.w_in[i].item() * bit + blk.b_in[i].item() + blk.b_rec[i].item()
            drive += sum(blk.w_rec[i, j].item() * hs[d][j] for j in range(m) if j != i)
            if d > 0:
                drive += blk.b_ff[i].item()
                drive += sum(blk.w_ff[i, j].item() * hs[d - 1][j] for j in range(m))
            phi = drive if drive > 0 else LEAK_SLOPE * drive
            tau = max(blk.tau[i].item(), 1.0)
            new.append((1 - 1 / tau) * hs[d][i] + phi / tau)
        out.append(new)
    return out


def test_update_matches_per_neuron_equation():
    net, g = grown(3, 3)
    with torch.no_grad():
        net.blocks[1].tau[0] = 0.5  # below the clamp: must act as tau = 1
    x = (torch.rand(2, 6, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(2, g)
    fast = scan(net, x, h0)[0].detach()
    for b in range(2):
        hs = [h0[d, b].tolist() for d in range(3)]
        for t in range(6):
            hs = scalar_step(net, hs, x[b, t, 0].item())
        for d in range(3):
            assert fast[d, b].tolist() == pytest.approx(hs[d], abs=1e-5)


def test_fast_scan_equals_reference_and_split_scan():
    net, g = grown(5, 6)
    x = (torch.rand(4, 15, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(4, g)
    ref = reference_final_states(net, x, h0)
    full = scan(net, x, h0)[0]
    assert torch.allclose(full, ref, atol=1e-6)
    with torch.no_grad():
        head, traj = scan(net, x, h0[:4], 0, 4, keep_last=True)
        tail, _ = scan(net, x, h0[4:], 4, 6, ff_in=traj)
    assert torch.allclose(torch.cat([head, tail]), ref, atol=1e-6)


def test_self_connections_get_no_gradient_and_do_not_act():
    net, g = grown(4, 2)
    x = (torch.rand(3, 8, 1, generator=g) < 0.5).float()
    engine.logits(net, x, g).sum().backward()
    for blk in net.blocks:
        assert torch.all(torch.diagonal(blk.w_rec.grad) == 0)
    h0 = net.initial_state(3, g)
    before = scan(net, x, h0)[0]
    with torch.no_grad():
        for blk in net.blocks:
            blk.w_rec.fill_diagonal_(100.0)
    assert torch.equal(before, scan(net, x, h0)[0])


def test_initial_state_range_and_freshness():
    net, g = grown(4, 2)
    a, b = net.initial_state(100, g), net.initial_state(100, g)
    assert a.shape == (2, 100, 4) and 0 <= a.min() and a.max() <= 0.1
    assert not torch.equal(a, b)


def test_feedforward_uses_previous_step_of_block_below():
    """A bit at the last step cannot reach block 1 (one step of delay), only block 0."""
    net, g = grown(3, 2)
    x = torch.zeros(1, 5, 1)
    x2 = x.clone()
    x2[0, -1, 0] = 1
    h0 = net.initial_state(1, g)
    with torch.no_grad():
        net.blocks[1].w_in.zero_()
        a, b = scan(net, x, h0)[0], scan(net, x2, h0)[0]
    assert not torch.equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


def test_duplication_without_noise_copies_exactly_and_noise_is_multiplicative():
    g = torch.Generator().manual_seed(0)
    net = RNN(4, g)
    net.add_block(generator=g)
    net.add_block(source=net.block_parameters(-1), noise=0.0, generator=g)
    src, new = net.blocks[1], net.blocks[2]
    for name in ("w_in", "b_in", "w_rec", "b_rec", "w_ff", "b_ff", "tau"):
        assert torch.equal(getattr(src, name), getattr(new, name)), name
    net.add_block(source=net.block_parameters(-1), noise=0.1, generator=g)
    ratio = net.blocks[3].w_rec / net.blocks[2].w_rec
    assert 0.01 < (ratio - 1).std().item() < 0.3 and not torch.equal(ratio, torch.ones(4, 4))


def test_random_init_differs_from_previous_module():
    g = torch.Generator().manual_seed(0)
    net = RNN(4, g)
    net.add_block(generator=g)
    net.add_block(generator=g)
    assert not torch.equal(net.blocks[1].w_rec, net.blocks[2].w_rec)


def test_parameter_counts_by_class():
    m, k = 10, 4
    net, _ = grown(m, k)
    c = count_parameters(net)["total"]
    assert c["input"] == k * 2 * m
    assert c["within"] == k * (m * m - m + m)
    assert c["between"] == (k - 1) * (m * m + m)
    assert c["readout"] == k * (2 * m + 2)
    assert c["tau"] == k * m
    assert c["all"] == sum(c[x] for x in ("input", "within", "between", "readout", "tau"))
    newest = count_parameters(net, lambda b, cls, name: b == k - 1)["trainable"]
    assert newest["all"] == (2 * m) + (m * m) + (m * m + m) + (2 * m + 2) + m


def test_structure_round_trip_is_strict():
    net, _ = grown(3, 3)
    clone = RNN.from_structure(net.structure())
    clone.load_state_dict(net.state_dict(), strict=True)
    x = torch.ones(2, 4, 1)
    h0 = net.initial_state(2)
    assert torch.equal(scan(net, x, h0)[0], scan(clone, x, h0)[0])
    with pytest.raises(ValueError, match="does not exist"):
        net.add_head(7)
    with pytest.raises(ValueError, match="ff_in"):
        scan(net, x, h0[1:], 1, 3)


@pytest.mark.parametrize("grad", [True, False])
def test_every_loop_matches_reference_with_and_without_autograd(grad):
    net, g = grown(4, 5)
    x = (torch.rand(3, 11, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(3, g)
    with torch.no_grad():
        ref = reference_final_states(net, x, h0)
        _, traj1 = scan(net, x, h0[:1], 0, 1, keep_last=True)
        _, traj3 = scan(net, x, h0[:3], 0, 3, keep_last=True)
    with torch.set_grad_enabled(grad):
        whole, _ = scan(net, x, h0)
        tail3, _ = scan(net, x, h0[1:], 1, 5, ff_in=traj1)   # several blocks fed from below
        last, _ = scan(net, x, h0[4:], 4, 5, ff_in=scan(net, x, h0[:4], 0, 4, keep_last=True)[1])
        mid, _ = scan(net, x, h0[3:4], 3, 4, ff_in=traj3)     # one block fed from below
    assert torch.allclose(whole, ref, atol=1e-6)
    assert torch.allclose(tail3, ref[1:], atol=1e-6)
    assert torch.allclose(last[0], ref[4], atol=1e-6)
    assert torch.allclose(mid[0], ref[3], atol=1e-6)


def reference_trajectory(net, x, h0):
    """States [T, K, B, M] after every step, by the naive reference run on growing prefixes."""
    return torch.stack([reference_final_states(net, x[:, :t + 1], h0)
                        for t in range(x.shape[1])])


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("blocks,record", [(1, (0,)), (5, (0, 2, 4)), (5, (3,))])
def test_recorded_states_match_reference(grad, blocks, record):
    net, g = grown(4, blocks)
    x = (torch.rand(3, 9, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(3, g)
    with torch.no_grad():
        ref = reference_trajectory(net, x, h0)  # [T, K, B, M]
    with torch.set_grad_enabled(grad):
        r = engine.run(net, x, h0, record=record)
    assert r.states.shape == (9, len(record), 3, 4)
    assert torch.allclose(r.states, ref[:, list(record)], atol=1e-6)
    assert torch.equal(r.states[-1], r.finals[list(record)])


def test_recording_a_suffix_fed_from_below():
    net, g = grown(3, 4)
    x = (torch.rand(2, 7, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(2, g)
    with torch.no_grad():
        ref = reference_trajectory(net, x, h0)
        feed = engine.run(net, x, h0[:2], 0, 2, keep_feed=True).feed
        r = engine.run(net, x, h0[2:], 2, 4, ff_in=feed, record=(2, 3))
    assert torch.allclose(r.states, ref[:, 2:4], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        engine.run(net, x, h0[2:], 2, 4, ff_in=feed, record=(1,))


@pytest.mark.parametrize("grad", [True, False])
def test_replacement_weights_equal_a_perturbed_copy(grad):
    """run(weights=...) must act exactly like a network whose parameters were replaced, and
    must leave the network itself untouched."""
    net, g = grown(4, 3)
    x = (torch.rand(3, 10, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(3, g)
    weights = {"blocks.1.w_rec": net.blocks[1].w_rec.detach() + 0.3 * torch.randn(4, 4, generator=g),
               "blocks.2.w_ff": net.blocks[2].w_ff.detach() * 1.5,
               "blocks.0.tau": net.blocks[0].tau.detach() + 2.0}
    before = {k: v.clone() for k, v in net.state_dict().items()}
    twin = copy.deepcopy(net)
    with torch.no_grad():
        for k, v in weights.items():
            dict(twin.named_parameters())[k].copy_(v)
        ref = reference_final_states(twin, x, h0)
    with torch.set_grad_enabled(grad):
        out = engine.run(net, x, h0, weights=weights).finals
    assert torch.allclose(out, ref, atol=1e-6)
    assert not torch.allclose(out, engine.run(net, x, h0).finals, atol=1e-3)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="unknown parameters"):
        engine.run(net, x, h0, weights={"blocks.9.w_rec": torch.zeros(4, 4)})
