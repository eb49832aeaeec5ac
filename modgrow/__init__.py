"""modgrow: modular growth of hierarchical recurrent networks (Hamidi et al., ALIFE 2024), reproduced."""

__version__ = "0.1.0"
