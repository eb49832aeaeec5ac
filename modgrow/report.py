"""Tables for the book: rows of dicts rendered as Markdown (and plain text outside notebooks)."""

from __future__ import annotations

import math

__all__ = ["table", "fmt", "VERDICT_COLUMNS"]

VERDICT_COLUMNS = ("claim", "paper", "this book", "rule", "verdict")


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int) and abs(v) >= 1e4:
        return f"{v:,}"
    return str(v)


class Table:
    def __init__(self, rows, columns):
        self.rows, self.columns = list(rows), list(columns)

    def markdown(self) -> str:
        head = "| " + " | ".join(self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(fmt(r.get(c, "")).replace("|", "/") for c in self.columns)
                + " |" for r in self.rows]
        return "\n".join([head, rule, *body])

    def _repr_markdown_(self):
        return self.markdown()

    def __repr__(self):
        return self.markdown()


def table(rows, columns=None) -> Table:
    """A table of ``rows`` (dicts); ``columns`` defaults to the first row's keys."""
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    return Table(rows, columns)
