"""Numbers and lists as the book's sentences and tables write them. No package imports, so that
any layer (experiments' verdict texts, the report, the pages) can use them."""

from __future__ import annotations

import math

__all__ = ["fmt", "words"]


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and abs(v) >= 1e4:
        return f"{v:,}"
    return str(v)


def words(items) -> str:
    """``[20, 50, 100]`` -> ``"20, 50 and 100"`` (numbers as ``fmt`` writes them)."""
    parts = [fmt(v) for v in items]
    if not parts:
        raise ValueError("words: nothing to list")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
