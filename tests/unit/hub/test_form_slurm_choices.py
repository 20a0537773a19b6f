"""The form's Slurm account, QoS and reservation (site allow-lists, passed to ``sbatch`` as
one argument each), and what Slurm's own answers (sinfo, sacctmgr, scontrol) become."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from rarehub_hub.options import (
    Limits,
    OptionsError,
    Profile,
    render_form,
    sbatch_arguments,
    validate_options,
)
from rarehub_hub.slurm_site_info import (
    offered_choices,
    parse_associations,
    parse_reservations,
    parse_sinfo,
)

LIMITS = Limits(
    partitions=("jupyter",),
    accounts=("physics", "chemistry"),
    qos=("normal", "long"),
    reservations=("maint",),
)
PROFILES = [Profile("small", "Small")]


def test_chosen_account_qos_reservation_become_sbatch_arguments():
    opts = validate_options(
        {"account": "physics", "qos": "long", "reservation": "maint"}, LIMITS, PROFILES, []
    )
    assert sbatch_arguments(opts) == ["--account=physics", "--qos=long", "--reservation=maint"]
    plain = validate_options({}, LIMITS, PROFILES, [])
    assert (plain["account"], plain["qos"], plain["reservation"]) == ("", "", "")
    assert sbatch_arguments(plain) == []  # Slurm's defaults


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"account": "biology"}, "account: 'biology' is not allowed; choose one of"),
        ({"account": "physics --uid=0"}, "account: 'physics --uid=0' is not allowed"),
        ({"qos": "normal\n#SBATCH --uid=0"}, "qos: "),
        ({"reservation": "$(reboot)"}, "reservation: '$(reboot)' is not allowed"),
    ],
)
def test_values_outside_the_allow_lists_are_refused(options, message):
    with pytest.raises(OptionsError, match=re.escape(message)):
        validate_options(options, LIMITS, PROFILES, [])


def test_a_field_the_site_does_not_offer_is_refused():
    with pytest.raises(OptionsError, match="account: 'physics' is not offered by this site"):
        validate_options({"account": "physics"}, Limits(), PROFILES, [])


def test_form_lists_the_offered_choices_and_what_is_free():
    html = render_form(
        LIMITS,
        PROFILES,
        [],
        last={"account": "chemistry"},
        availability={"jupyter": "3 idle CPUs, 7 GiB memory free on 2 node(s)"},
        offered={"account": ["physics", "chemistry"], "qos": [], "reservation": ["maint"]},
    )
    assert 'name="account"' in html
    assert '<option value="chemistry" selected>' in html
    assert 'name="qos"' not in html  # nothing offered to this user
    assert 'name="reservation"' in html
    assert "<code>jupyter</code>: 3 idle CPUs, 7 GiB memory free on 2 node(s)" in html


def test_sinfo_is_summed_per_partition_without_down_nodes():
    text = (
        "jupyter|node1|1/3/0/4|8192|2048|mixed|\n"
        "jupyter|node2|0/4/0/4|8192|0|idle|\n"
        "jupyter|node3|0/4/0/4|8192|0|down*|\n"
        "gpu*|node4|4/0/0/4|16384|16384|allocated|\n"
    )
    assert parse_sinfo(text) == {
        "jupyter": "7 idle CPUs, 14 GiB memory free on 2 node(s)",
        "gpu": "0 idle CPUs, 0 GiB memory free on 1 node(s)",
    }


def test_associations_and_reservations_are_parsed():
    assert parse_associations("physics|normal,long\nchemistry|normal\n") == (
        {"physics", "chemistry"},
        {"normal", "long"},
    )
    line = "ReservationName=maint StartTime=2026-12-06T17:53:42 Users=alice State=ACTIVE"
    assert parse_reservations(line + "\n") == {"maint"}


def fake(bin_dir: Path, name: str, body: str) -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)


def test_choices_narrow_to_what_slurm_knows_for_the_user(tmp_path):
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", RH_TEST=str(tmp_path))
    fake(tmp_path, "sacctmgr", "echo 'physics|normal'")
    fake(tmp_path, "scontrol", "echo 'ReservationName=maint State=ACTIVE'")
    allowed = {"account": LIMITS.accounts, "qos": LIMITS.qos, "reservation": ("maint", "gone")}
    out = asyncio.run(offered_choices("alice", allowed, env))
    assert out == {"account": ["physics"], "qos": ["normal"], "reservation": ["maint"]}


def test_without_accounting_the_allow_list_is_offered_as_is(tmp_path):
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", RH_TEST=str(tmp_path))
    fake(tmp_path, "sacctmgr", "echo 'accounting_storage/slurmdbd only' >&2; exit 1")
    fake(tmp_path, "scontrol", "exit 1")
    allowed = {"account": LIMITS.accounts, "qos": LIMITS.qos, "reservation": ("maint",)}
    out = asyncio.run(offered_choices("bob", allowed, env))
    assert out == {"account": ["physics", "chemistry"], "qos": ["normal", "long"],
                   "reservation": ["maint"]}  # fmt: skip
