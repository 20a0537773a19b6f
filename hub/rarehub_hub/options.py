"""The resource form: profiles plus free values within admin-set limits, validated strictly.

Every value a user sends (form or REST API) goes through :func:`validate_options` before
anything is rendered into a batch script. Values are matched against ASCII-only full-match
patterns or exact allow-lists; anything else — shell metacharacters, newlines, ``$(…)``,
quotes, huge numbers, non-ASCII digits — is refused with a :class:`OptionsError` naming the
field, the (shortened) value and what is allowed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WALLTIME = re.compile(r"([0-9]{1,3}):([0-5][0-9])", re.ASCII)
WHOLE = re.compile(r"[0-9]{1,6}", re.ASCII)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
FIELDS = (
    "profile",
    "partition",
    "cpus",
    "memory_GiB",
    "walltime",
    "gpus",
    "image",
    "account",
    "qos",
    "reservation",
)
#: Slurm's accounting fields: empty means Slurm's default; each goes to ``sbatch`` as
#: ``--account=…``, ``--qos=…``, ``--reservation=…`` (one argument each, no shell).
SLURM_CHOICES = {"account": "accounts", "qos": "qos", "reservation": "reservations"}


class OptionsError(ValueError):
    """A user option that is not allowed; the message says which and what is."""


@dataclass(frozen=True)
class Limits:
    """What the admin allows users to ask for.

    Attributes
    ----------
    partitions
        Partitions users may choose (the first is the default).
    cpus, memory_GiB
        Inclusive (min, max) ranges of CPUs and memory (GiB) per server.
    walltime_minutes
        Inclusive (min, max) range of the job's wall time, in minutes.
    gpus_max
        Most GPUs per server (0: no GPU field).
    images
        Image versions users may choose (the first is the default).
    accounts, qos, reservations
        Slurm accounts, QoS and reservations users may name (empty: the field is not
        offered, and Slurm's default applies).
    """

    partitions: tuple[str, ...] = ("rarehub",)
    cpus: tuple[int, int] = (1, 4)
    memory_GiB: tuple[int, int] = (1, 16)
    walltime_minutes: tuple[int, int] = (10, 8 * 60)
    gpus_max: int = 0
    images: tuple[str, ...] = ("latest",)
    accounts: tuple[str, ...] = ()
    qos: tuple[str, ...] = ()
    reservations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A named preset. ``groups`` empty means everyone may use it."""

    name: str
    display_name: str
    cpus: int = 1
    memory_GiB: int = 2
    walltime_minutes: int = 120
    gpus: int = 0
    partition: str = ""
    image: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)

    def visible_to(self, user_groups: Iterable[str]) -> bool:
        return not self.groups or bool(set(self.groups) & set(user_groups))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…'"


def _as_text(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OptionsError(f"{name}: {_show(value)} is not a text or whole-number value")
    return str(value)


def _whole(name: str, value: object, low: int, high: int, unit: str = "") -> int:
    text = _as_text(name, value).strip(" ")
    if not WHOLE.fullmatch(text) or not low <= int(text) <= high:
        raise OptionsError(
            f"{name}: {_show(value)} is not allowed; use a whole number from {low} to {high}{unit}"
        )
    return int(text)


def _choice(name: str, value: object, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    text = _as_text(name, value)
    if text not in allowed:
        raise OptionsError(f"{name}: {_show(value)} is not allowed; choose one of {allowed}")
    return text


def format_walltime(minutes: int) -> str:
    """Minutes as Slurm's ``H:MM:00``."""
    return f"{minutes // 60}:{minutes % 60:02d}:00"


def _walltime(value: object, limits: Limits) -> int:
    low, high = limits.walltime_minutes
    text = _as_text("walltime", value).strip(" ")
    m = WALLTIME.fullmatch(text)
    minutes = int(m[1]) * 60 + int(m[2]) if m else -1
    if not low <= minutes <= high:
        raise OptionsError(
            f"walltime: {_show(value)} is not allowed; use H:MM from "
            f"{low // 60}:{low % 60:02d} to {high // 60}:{high % 60:02d}"
        )
    return minutes


def visible_profiles(profiles: Iterable[Profile], user_groups: Iterable[str]) -> list[Profile]:
    groups = list(user_groups)
    return [p for p in profiles if p.visible_to(groups)]


def validate_options(
    raw: Mapping[str, object],
    limits: Limits,
    profiles: Iterable[Profile],
    user_groups: Iterable[str],
) -> dict[str, object]:
    """Check a user's choice and return the complete, clean options.

    ``raw`` maps field names to values (strings from a form or JSON values from the REST
    API); an empty or missing field takes the chosen profile's value. Unknown fields are
    refused. Returns ``{"profile", "partition", "cpus", "memory_GiB", "walltime_minutes",
    "gpus", "image", "account", "qos", "reservation"}`` with validated values (the last three
    ``""`` when not chosen: Slurm's default).

    Raises
    ------
    OptionsError
        For the first value that is not allowed, naming the field and the allowed values.
    """
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        raise OptionsError(f"unknown option(s) {_show(unknown)}; allowed: {list(FIELDS)}")
    mine = visible_profiles(profiles, user_groups)
    if not mine:
        raise OptionsError("no profile is available to your groups; ask the admins")
    given = {k: v for k, v in raw.items() if v not in ("", None)}
    name = _choice("profile", given.get("profile", mine[0].name), [p.name for p in mine])
    p = next(p for p in mine if p.name == name)
    out: dict[str, object] = {"profile": name}
    out["partition"] = _choice(
        "partition", given.get("partition", p.partition or limits.partitions[0]), limits.partitions
    )
    out["cpus"] = _whole("cpus", given.get("cpus", p.cpus), *limits.cpus)
    out["memory_GiB"] = _whole(
        "memory_GiB", given.get("memory_GiB", p.memory_GiB), *limits.memory_GiB, " GiB"
    )
    if "walltime" in given:
        out["walltime_minutes"] = _walltime(given["walltime"], limits)
    else:
        out["walltime_minutes"] = _walltime(format_walltime(p.walltime_minutes)[:-3], limits)
    out["gpus"] = _whole("gpus", given.get("gpus", p.gpus), 0, limits.gpus_max)
    out["image"] = _choice("image", given.get("image", p.image or limits.images[0]), limits.images)
    for name, allowed_key in SLURM_CHOICES.items():
        allowed = getattr(limits, allowed_key)
        if name not in given:
            out[name] = ""
        elif not allowed:
            raise OptionsError(f"{name}: {_show(given[name])} is not offered by this site")
        else:
            out[name] = _choice(name, given[name], allowed)
    return out


def sbatch_arguments(options: Mapping[str, object]) -> list[str]:
    """The ``sbatch`` arguments for validated ``options``' account, QoS and reservation."""
    return [f"--{name}={options[name]}" for name in SLURM_CHOICES if options.get(name)]


def form_data_to_raw(formdata: Mapping[str, list[str]]) -> dict[str, str]:
    """JupyterHub's form data (name → list of strings) as name → the single value given."""
    raw = {}
    for key, values in formdata.items():
        if len(values) != 1:
            raise OptionsError(f"{_show(key)}: give exactly one value")
        raw[key] = values[0]
    return raw


def render_form(
    limits: Limits,
    profiles: Iterable[Profile],
    user_groups: Iterable[str],
    last: Mapping[str, object] | None = None,
    availability: Mapping[str, str] | None = None,
    offered: Mapping[str, Iterable[str]] | None = None,
) -> str:
    """The options form's HTML; the previous valid choice (``last``) is preselected.

    ``availability``: partition → what is free there now (shown beside the partitions);
    ``offered``: account/qos/reservation → the choices to list (default: the limits')."""
    mine = visible_profiles(profiles, user_groups)
    try:
        prev = validate_options(
            {k: v for k, v in (last or {}).items() if k in FIELDS}, limits, mine, user_groups
        )
        if "walltime" not in (last or {}):
            prev.pop("walltime_minutes")
        for name in SLURM_CHOICES:
            if name not in (last or {}):
                prev.pop(name, None)
    except OptionsError:
        prev = {}
    e = html.escape

    def select(name: str, label: str, options: list[tuple[str, str]], chosen: str) -> str:
        opts = "".join(
            f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(t)}</option>'
            for v, t in options
        )
        return (
            f'<div class="form-group"><label for="rh-{name}">{e(label)}</label>'
            f'<select class="form-control" id="rh-{name}" name="{name}">{opts}</select></div>'
        )

    def number(name: str, label: str, low: int, high: int) -> str:
        value = prev.get(name, "") if last and name in last else ""
        return (
            f'<div class="form-group"><label for="rh-{name}">{e(label)} ({low}–{high})</label>'
            f'<input class="form-control" type="number" id="rh-{name}" name="{name}" '
            f'min="{low}" max="{high}" step="1" value="{e(str(value))}" '
            f'placeholder="profile default"></div>'
        )

    wl, wh = limits.walltime_minutes
    wall = ""
    if last and "walltime" in last and "walltime_minutes" in prev:
        wall = format_walltime(int(prev["walltime_minutes"]))[:-3]
    parts = [
        select(
            "profile",
            "Profile",
            [(p.name, p.display_name) for p in mine],
            str(prev.get("profile", mine[0].name if mine else "")),
        ),
        "<details><summary>Adjust resources</summary>",
        select(
            "partition",
            "Partition",
            [("", "profile default")] + [(x, x) for x in limits.partitions],
            str(prev.get("partition", "")) if last and "partition" in last else "",
        ),
        number("cpus", "CPUs", *limits.cpus),
        number("memory_GiB", "Memory, GiB", *limits.memory_GiB),
        '<div class="form-group"><label for="rh-walltime">Wall time, H:MM '
        f"({wl // 60}:{wl % 60:02d}–{wh // 60}:{wh % 60:02d})</label>"
        '<input class="form-control" type="text" id="rh-walltime" name="walltime" '
        f'pattern="[0-9]{{1,3}}:[0-5][0-9]" value="{e(wall)}" placeholder="profile default">'
        "</div>",
    ]
    if limits.gpus_max:
        parts.append(number("gpus", "GPUs", 0, limits.gpus_max))
    parts.append(
        select(
            "image",
            "Image version",
            [("", "profile default")] + [(x, x) for x in limits.images],
            str(prev.get("image", "")) if last and "image" in last else "",
        )
    )
    labels = {"account": "Slurm account", "qos": "QoS", "reservation": "Reservation"}
    for name, label in labels.items():
        choices = list((offered or {}).get(name, getattr(limits, SLURM_CHOICES[name])))
        if choices:
            parts.append(
                select(
                    name,
                    label,
                    [("", "Slurm default")] + [(x, x) for x in choices],
                    str(prev.get(name, "")),
                )
            )
    parts.append("</details>")
    if availability:
        rows = "".join(
            f"<li><code>{e(p)}</code>: {e(text)}</li>" for p, text in sorted(availability.items())
        )
        parts.append(f'<div id="rh-availability"><p>Free now:</p><ul>{rows}</ul></div>')
    return "\n".join(parts)
