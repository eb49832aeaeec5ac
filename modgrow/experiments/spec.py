"""What an experiment of the book is: a name, its chapter, the configs it runs in a profile, and
the derived analyses it stores. Each chapter module under ``modgrow.experiments`` lists its
experiments in ``EXPERIMENTS`` and its verdict rows in ``verdicts(profile)``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

from ..profiles import Profile
from ..training import GrowthConfig

__all__ = ["Experiment"]


@dataclass(frozen=True)
class Experiment:
    name: str
    chapter: str
    summary: str            # one line, shown by the CLI; {field} names a field of the profile
    configs: Callable[[Profile], list[GrowthConfig]]    # the curriculum runs, in order
    analyse: Callable[[Profile], int] | None = None     # derived results; returns how many
    # runs still going: the prefix of each run of ``configs`` that the book reads meanwhile
    # (stored by ``store.store_reached``), counted in the chapter's rerun box
    partial: Callable[[Profile], list[GrowthConfig]] | None = None

    def describe(self, profile: Profile) -> str:
        """The summary with the profile's values in place of its ``{field}`` names (the CLI's
        ``--help`` and the chapters' rerun boxes show the sizes a profile really runs)."""
        try:
            return self.summary.format(**{f.name: getattr(profile, f.name)
                                          for f in fields(profile)})
        except (KeyError, IndexError) as e:
            raise ValueError(f"experiment {self.name!r}: its summary names {e}, which is not a "
                             f"field of the profile") from None
