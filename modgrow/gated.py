"""Gated recurrent networks: GRU and LSTM baselines for the multi-head curriculum.

The authors' gated baseline (FACTS.md) is a non-modular multi-head LSTM: one recurrent
population, a linear 2-way head per N reading its final hidden state, all heads trained together.
``GatedRNN`` is that network built on PyTorch's ``nn.GRU`` or ``nn.LSTM`` (one layer, input size
1, batch first) with one ``nn.Linear(hidden, 2)`` head per N, like the leaky non-modular network.
It trains with the same curriculum, summed cross-entropy, criterion and step budgets as every run
(``modgrow.training``); every parameter trains at every stage.

What is held equal with the leaky networks, and what is not:

* inputs: the same 0/1 bits (the same batches from the same task). The authors code their LSTM's
  input as +-1; x' = 2x - 1 is an affine change that the input weights and biases absorb exactly
  (W x' + b = 2W x + (b - W)), so only the initial scale differs, not what a network can learn.
* readout: each head reads the final hidden state h(T) (for the LSTM h, not the cell state c).
* initial state: zeros (PyTorch's default). The leaky networks' random h(0) belongs to their
  neuron model, not to the task.
* initialisation: PyTorch's own distribution for every weight and bias (U(+-1/sqrt(hidden))),
  drawn from the run's generator so that the seed fixes the network; heads as the leaky networks'.
* optimiser (set by the run's config; ``training.GATED_DEFAULTS``): Adam with lr 1e-3 and
  gradient-norm clipping at 2, as the authors' LSTM, instead of the leaky networks' Nesterov SGD.
  Batch 256 and the book's criterion, as every run (their LSTM: batch 64, 300 steps per epoch).

``parameter_count`` and ``hidden_size_for`` size a gated network to a parameter budget (all of a
gated network's parameters train), e.g. that of a modular network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .network import _uniform, largest_size, new_head

__all__ = ["CELLS", "GATES", "GatedStructure", "GatedRNN", "parameter_count", "hidden_size_for"]

CELLS = ("gru", "lstm")
GATES = {"gru": 3, "lstm": 4}  # gate blocks stacked in each of PyTorch's weight matrices
INPUT_SIZE = 1
_MODULES = {"gru": nn.GRU, "lstm": nn.LSTM}


def _check_cell(cell: str) -> None:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


def parameter_count(cell: str, hidden: int, n_heads: int, input_size: int = INPUT_SIZE) -> int:
    """Parameters of a ``GatedRNN`` (every one trains): per gate block W_ih (hidden x input),
    W_hh (hidden x hidden) and two biases (hidden each), then 2 hidden + 2 per head."""
    _check_cell(cell)
    per_gate = hidden * input_size + hidden * hidden + 2 * hidden
    return GATES[cell] * per_gate + n_heads * (2 * hidden + 2)


def hidden_size_for(cell: str, n_params: int, n_heads: int, input_size: int = INPUT_SIZE) -> int:
    """The largest hidden size whose ``cell`` network with ``n_heads`` heads has at most
    ``n_params`` (trainable) parameters."""
    _check_cell(cell)
    return largest_size(lambda h: parameter_count(cell, h, n_heads, input_size), n_params)


@dataclass(frozen=True)
class GatedStructure:
    """What is needed to rebuild a GatedRNN before loading its state dict."""

    cell: str
    hidden_size: int
    n_heads: int

    def to_dict(self) -> dict:
        return {"cell": self.cell, "hidden_size": self.hidden_size, "n_heads": self.n_heads}

    @classmethod
    def from_dict(cls, d: dict) -> "GatedStructure":
        return cls(str(d["cell"]), int(d["hidden_size"]), int(d["n_heads"]))


class GatedRNN(nn.Module):
    """One GRU or LSTM population with linear 2-way readout heads, all reading its final state.

    It offers the structure the trainer and the parameter counts read from a leaky ``RNN``
    (``heads``, ``head_blocks``, ``n_blocks``, ``n_neurons``, ``add_head``,
    ``classified_parameters``, ``structure``), as a single block."""

    def __init__(self, cell: str, hidden_size: int, generator: torch.Generator | None = None):
        super().__init__()
        _check_cell(cell)
        if hidden_size < 1:
            raise ValueError(f"hidden size must be >= 1, got {hidden_size}")
        self.cell, self.hidden_size = cell, hidden_size
        self.rnn = _MODULES[cell](INPUT_SIZE, hidden_size, batch_first=True)
        k = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():  # PyTorch's distribution, from the run's generator
            for p in self.rnn.parameters():
                p.copy_(_uniform(p.shape, k, generator))
        self.heads = nn.ModuleList()

    # ----- structure -------------------------------------------------------------------------
    @property
    def n_blocks(self) -> int:
        return 1

    @property
    def n_neurons(self) -> int:
        return self.hidden_size

    @property
    def head_blocks(self) -> list[int]:
        return [0] * len(self.heads)

    def structure(self) -> GatedStructure:
        return GatedStructure(self.cell, self.hidden_size, len(self.heads))

    @classmethod
    def from_structure(cls, s: GatedStructure) -> "GatedRNN":
        net = cls(s.cell, s.hidden_size)
        for _ in range(s.n_heads):
            net.add_head(0)
        return net

    def add_head(self, block: int = 0, generator: torch.Generator | None = None, *,
                 source: int | None = None, noise: float = 0.0) -> int:
        """Add a head on the population (``block`` must be 0); with ``source`` a noisy copy of
        head ``source`` (as ``RNN.add_head``). Returns the head index."""
        if block != 0:
            raise ValueError(f"a gated network has one block (0), got block {block}")
        src = self.heads[source] if source is not None else None
        self.heads.append(new_head(self.hidden_size, generator, source=src, noise=noise))
        return len(self.heads) - 1

    def classified_parameters(self):
        """(block 0, connection class, name, parameter): input-to-hidden weights and biases are
        "input", hidden-to-hidden ones "within", heads "readout"."""
        for name, p in self.rnn.named_parameters():
            yield 0, ("input" if "_ih_" in name else "within"), name, p
        for h in self.heads:
            yield 0, "readout", "weight", h.weight
            yield 0, "readout", "bias", h.bias

    # ----- dynamics ----------------------------------------------------------------------------
    def final_states(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden state [B, hidden] after the last step of x: [B, T, 1], from a zero state."""
        out, _ = self.rnn(x)  # [B, T, hidden]
        return out[:, -1]

    def logits(self, x: torch.Tensor, heads=None) -> torch.Tensor:
        """Logits [len(heads), B, 2] of the given heads (default all) at the end of x."""
        heads = range(len(self.heads)) if heads is None else heads
        h = self.final_states(x)
        return torch.stack([self.heads[i](h) for i in heads])
