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


# ----- pooled scans and the hand-written backward pass (issue #9) ---------------------------------

def _mixed_batches(net, g, shapes=((4, 7), (15, 5), (9, 9))):
    """Batches of different lengths, one shorter than the network is deep."""
    xs = [(torch.rand(b, t, 1, generator=g) < 0.5).float() for t, b in shapes]
    return xs, [net.initial_state(x.shape[0], g) for x in xs]


@pytest.mark.parametrize("chunk", [None, 3, 128])
def test_pooled_feeds_and_finals_match_per_batch_runs_for_mixed_lengths(chunk):
    net, g = grown(4, 6, seed=2)
    xs, h0s = _mixed_batches(net, g)
    for hi in (1, 2, 5, 6):
        feeds = engine.pool_feeds(net, xs, h0s, hi, chunk=chunk)
        for x, h0, f in zip(xs, h0s, feeds):
            with torch.no_grad():
                ref = engine.run(net, x, h0[:hi], 0, hi, keep_feed=True).feed
            assert f.shape == ref.shape
            torch.testing.assert_close(f, ref, atol=1e-5, rtol=0)
    for x, h0, fin in zip(xs, h0s, engine.pool_finals(net, xs, h0s, chunk=chunk)):
        with torch.no_grad():
            torch.testing.assert_close(fin, engine.run(net, x, h0).finals, atol=1e-5, rtol=0)


def test_pooled_numbers_of_a_batch_do_not_depend_on_the_rest_of_the_pool():
    net, g = grown(4, 6, seed=3)
    xs, h0s = _mixed_batches(net, g)
    together = engine.pool_feeds(net, xs, h0s, 5, chunk=4)
    alone = engine.pool_feeds(net, xs[1:2], h0s[1:2], 5, chunk=4)[0]
    assert torch.equal(together[1], alone)


def test_pooled_tasks_refuse_mismatched_inputs():
    net, g = grown(4, 3)
    xs, h0s = _mixed_batches(net, g)
    fused = engine.fused_weights(net)
    with pytest.raises(ValueError, match="initial states"):
        engine.pool_tasks(fused, xs, h0s[:2], feed=True)
    with pytest.raises(ValueError, match="does not fit"):
        engine.pool_tasks(fused, xs[:1], [h0s[1]], feed=True)
    with pytest.raises(ValueError, match="chunk"):
        engine.pool_tasks(fused, xs, h0s, feed=True, chunk=0)


def test_manual_bptt_has_the_same_forward_and_autograd_gradients():
    net, g = grown(5, 4, seed=4)
    with torch.no_grad():
        net.blocks[3].tau[1] = 0.7  # clamped: no gradient through tau there
    x = (torch.rand(6, 12, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(6, g)
    with torch.no_grad():
        feed = engine.run(net, x, h0[:3], 0, 3, keep_feed=True).feed
    target = torch.randn(6, 5, generator=g)
    out = {}
    for manual in (False, True):
        net.zero_grad(set_to_none=True)
        fin = engine.run(net, x, h0[3:], 3, 4, ff_in=feed, manual_bptt=manual).finals
        ((fin[0] - target) ** 2).sum().backward()
        out[manual] = fin.detach(), {k: p.grad.clone() for k, p in net.named_parameters()
                                     if p.grad is not None}
    assert torch.equal(out[False][0], out[True][0])
    assert out[False][1].keys() == out[True][1].keys() and len(out[True][1]) == 7
    for k, ref in out[False][1].items():
        torch.testing.assert_close(out[True][1][k], ref, atol=1e-6, rtol=1e-4)


def test_manual_bptt_passes_gradcheck():
    g = torch.Generator().manual_seed(5)
    d = dict(dtype=torch.float64)
    pre = torch.randn(7, 3, 4, generator=g, **d).requires_grad_()
    h = torch.rand(3, 4, generator=g, **d).requires_grad_()
    w = (0.5 * torch.randn(4, 4, generator=g, **d)).requires_grad_()
    tau = 1 + torch.rand(4, generator=g, **d)
    decay = (1 - 1 / tau).requires_grad_()
    gain = (1 / tau).requires_grad_()
    assert torch.autograd.gradcheck(engine._ScanOne.apply, (pre, h, w, decay, gain))


def _indexed_scan_one(net, x, h):
    """The engine's one-block loop as first written, indexing pre[t] (for comparison)."""
    w_rec, _, bias, w_in, tau = engine.stack_parameters(net)
    pre = (x * w_in[0] + bias[0]).transpose(0, 1)
    w, decay, gain = w_rec[0].t(), 1 - 1 / tau[0], 1 / tau[0]
    for t in range(pre.shape[0]):
        act = torch.nn.functional.leaky_relu(torch.addmm(pre[t], h, w), LEAK_SLOPE)
        h = torch.addcmul(h * decay, act, gain)
    return h


def test_one_block_scan_has_the_gradients_of_per_step_indexing_bit_for_bit():
    net, g = grown(6, 1, seed=7)
    x = (torch.rand(5, 30, 1, generator=g) < 0.5).float()
    h0 = net.initial_state(5, g)
    target = torch.randn(5, 6, generator=g)
    grads = []
    for run in (lambda: engine.run(net, x, h0).finals[0],
                lambda: _indexed_scan_one(net, x, h0[0])):
        net.zero_grad(set_to_none=True)
        fin = run()
        ((fin - target) ** 2).sum().backward()
        grads.append((fin.detach(), {k: p.grad.clone() for k, p in net.named_parameters()
                                     if p.grad is not None}))
    (f_engine, g_engine), (f_ref, g_ref) = grads
    assert torch.equal(f_engine, f_ref)
    assert g_engine.keys() == g_ref.keys() and {"blocks.0.w_in", "blocks.0.w_rec"} <= g_engine.keys()
    for k in g_ref:
        assert torch.equal(g_engine[k], g_ref[k]), k


def test_one_block_backward_work_grows_linearly_with_the_sequence_length():
    """Backpropagating through T steps must not zero-fill a [T, B, M] tensor per step (what
    indexing pre[t] does: quadratic in T, a third of a 150-neuron baseline step at N = 20)."""
    import math
    from torch.profiler import profile

    def zero_filled(steps):
        net, g = grown(8, 1, seed=1)
        x = (torch.rand(4, steps, 1, generator=g) < 0.5).float()
        with profile(record_shapes=True) as prof:
            engine.run(net, x, net.initial_state(4, g)).finals.sum().backward()
        return sum(math.prod(e.input_shapes[0]) for e in prof.events()
                   if e.name in ("aten::fill_", "aten::zero_") and e.input_shapes
                   and e.input_shapes[0])
    assert zero_filled(80) < 6 * zero_filled(20)   # 4x the steps: linear 4x, quadratic 16x
