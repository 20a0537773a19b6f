"""Named, composable event cuts and cut-flow tables, stored with their definitions."""

from .cuts import Cut, CutFlow, load_cutflow

__all__ = ["Cut", "CutFlow", "load_cutflow"]
