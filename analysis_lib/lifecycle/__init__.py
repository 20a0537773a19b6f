"""Storage lifecycle: which stored results lineage can rebuild, and freeing them safely.

``rarehub storage plan`` / :func:`plan_storage` list raw data and stored results with their
bytes, age, last access, CPU time and whether their lineage can rebuild them;
``rarehub storage free`` / :func:`free_results` deletes only rebuildable results older than
a limit, recording every deletion in the catalog.
"""

from .plan import free_results, plan_headline, plan_storage, summarize_plan

__all__ = ["free_results", "plan_headline", "plan_storage", "summarize_plan"]
