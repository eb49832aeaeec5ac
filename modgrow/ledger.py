"""The claims ledger: every chapter's verdict rows, gathered over the experiment registry."""

from __future__ import annotations

from .experiments import CHAPTERS
from .profiles import Profile

__all__ = ["all_claims"]


def all_claims(profile: Profile) -> list[dict]:
    return [{**row, "chapter": m.CHAPTER} for m in CHAPTERS for row in m.verdicts(profile)]
