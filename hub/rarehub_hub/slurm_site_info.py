"""What Slurm says about the site, for the spawn form: free resources per partition, and the
accounts, QoS and reservations a user may name — each cached (at most :data:`CACHE_S`).

- :func:`partition_availability`: ``sinfo`` per node (idle CPUs, memory not allocated to
  jobs), summed per partition, for the form's "Free now" list.
- :func:`offered_choices`: the site's allow-lists (``slurm.limits.accounts``/``qos``/
  ``reservations``) narrowed to what Slurm knows for this user: ``sacctmgr show assoc`` (only
  with accounting, slurmdbd) and ``scontrol show reservation``. Where Slurm does not answer
  the allow-list is offered as is (``sbatch`` still refuses what the user may not use).

Every call is an argument list with a timeout (:func:`~rarehub_hub.slurm_squeue.run_slurm`);
nothing here blocks the hub's event loop or raises into the form.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from .slurm_squeue import run_slurm

#: Seconds an answer is reused (the issue: availability cached ≤ 30 s).
CACHE_S = 30.0
_cache: dict[tuple, tuple[float, object]] = {}


async def _cached(key: tuple, fetch):
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] <= CACHE_S:
        return hit[1]
    value = await fetch()
    _cache[key] = (time.monotonic(), value)
    return value


def parse_sinfo(text: str) -> dict[str, str]:
    """``sinfo -h -N -O PartitionName:|,NodeHost:|,CPUsState:|,Memory:|,AllocMem:|,StateLong:|``
    → partition → "N idle CPUs, M GiB free memory on K nodes" (nodes down or drained skip)."""
    sums: dict[str, list[float]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 6 or not parts[0]:
            continue
        partition, _, cpus, memory, alloc, state = parts[:6]
        partition = partition.rstrip("*")
        try:
            idle = int(cpus.split("/")[1])
            free_MiB = max(0, int(memory) - int(alloc))
        except (IndexError, ValueError):
            continue
        s = sums.setdefault(partition, [0, 0.0, 0])
        if any(bad in state for bad in ("down", "drain", "fail", "maint")):
            continue
        s[0] += idle
        s[1] += free_MiB / 1024
        s[2] += 1
    return {
        p: f"{int(c)} idle CPUs, {m:.0f} GiB memory free on {int(n)} node(s)"
        for p, (c, m, n) in sums.items()
    }


async def partition_availability(env: Mapping[str, str], timeout_s: float = 10.0) -> dict[str, str]:
    """Partition → what is free now; {} when ``sinfo`` does not answer."""

    async def fetch():
        code, out, _ = await run_slurm(
            ["sinfo", "-h", "-N", "-O",
             "PartitionName:|,NodeHost:|,CPUsState:|,Memory:|,AllocMem:|,StateLong:|"],
            env,
            timeout_s,
        )  # fmt: skip
        return parse_sinfo(out) if code == 0 else {}

    return await _cached(("sinfo", tuple(sorted(env.items()))), fetch)


def parse_associations(text: str) -> tuple[set[str], set[str]]:
    """``sacctmgr -nP show assoc user=U format=account,qos`` → (accounts, QoS names)."""
    accounts, qos = set(), set()
    for line in text.splitlines():
        account, _, q = line.partition("|")
        if account.strip():
            accounts.add(account.strip())
        qos.update(x.strip() for x in q.split(",") if x.strip())
    return accounts, qos


def parse_reservations(text: str) -> set[str]:
    """Names in ``scontrol -o show reservation`` output."""
    names = set()
    for line in text.splitlines():
        for word in line.split():
            if word.startswith("ReservationName="):
                names.add(word.split("=", 1)[1])
    return names


async def offered_choices(
    user: str,
    allowed: Mapping[str, Iterable[str]],
    env: Mapping[str, str],
    timeout_s: float = 10.0,
) -> dict[str, list[str]]:
    """``allowed`` (account/qos/reservation → the site's allow-list) narrowed to what Slurm
    knows for ``user``, where it answers."""
    out = {name: list(values) for name, values in allowed.items()}
    if not any(out.values()):
        return out
    envkey = tuple(sorted(env.items()))

    async def associations():
        code, text, _ = await run_slurm(
            ["sacctmgr", "-nP", "show", "assoc", f"user={user}", "format=account,qos"],
            env,
            timeout_s,
        )
        return parse_associations(text) if code == 0 and text.strip() else None

    async def reservations():
        code, text, _ = await run_slurm(["scontrol", "-o", "show", "reservation"], env, timeout_s)
        return parse_reservations(text) if code == 0 else None

    if out.get("account") or out.get("qos"):
        assoc = await _cached(("sacctmgr", user, envkey), associations)
        if assoc is not None:
            out["account"] = [a for a in out.get("account", []) if a in assoc[0]]
            out["qos"] = [q for q in out.get("qos", []) if q in assoc[1]]
    if out.get("reservation"):
        known = await _cached(("scontrol-res", envkey), reservations)
        if known is not None:
            out["reservation"] = [r for r in out["reservation"] if r in known]
    return out
