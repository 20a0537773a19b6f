"""The resource form: profiles by group, free values within limits, hostile values refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rarehub_hub.options import (
    Limits,
    OptionsError,
    Profile,
    form_data_to_raw,
    render_form,
    validate_options,
)

LIMITS = Limits(
    partitions=("short", "long"),
    cpus=(1, 8),
    memory_GiB=(1, 32),
    walltime_minutes=(10, 600),
    gpus_max=2,
    images=("1.0", "1.1"),
)
PROFILES = [
    Profile("small", "Small", cpus=1, memory_GiB=2, walltime_minutes=60),
    Profile("gpu", "GPU", cpus=4, memory_GiB=16, gpus=1, partition="long", groups=("gpu",)),
]
VALID = {
    "profile": "small",
    "partition": "long",
    "cpus": "4",
    "memory_GiB": "8",
    "walltime": "2:30",
    "gpus": "0",
    "image": "1.1",
}
EVIL = [";", "\n", "\r", "$(", "`", "'", '"', "|", "&", " --uid=0", "\x00", "#"]
EVIL += ["٣", "１", "\u202e", "ǅ"]  # non-ASCII digits, bidi override, odd letters


def test_profile_defaults_and_free_values():
    assert validate_options({}, LIMITS, PROFILES, []) == {
        "profile": "small",
        "partition": "short",
        "cpus": 1,
        "memory_GiB": 2,
        "walltime_minutes": 60,
        "gpus": 0,
        "image": "1.0",
        "account": "",  # Slurm's defaults: no --account, --qos, --reservation
        "qos": "",
        "reservation": "",
    }
    out = validate_options(VALID, LIMITS, PROFILES, [])
    assert out["cpus"] == 4
    assert out["walltime_minutes"] == 150
    assert out["partition"] == "long"
    # JSON numbers from the REST API are accepted too.
    assert validate_options({"cpus": 8}, LIMITS, PROFILES, [])["cpus"] == 8


def test_profiles_are_filtered_by_group():
    with pytest.raises(OptionsError, match="profile: 'gpu' is not allowed"):
        validate_options({"profile": "gpu"}, LIMITS, PROFILES, ["users"])
    out = validate_options({"profile": "gpu"}, LIMITS, PROFILES, ["users", "gpu"])
    assert (out["gpus"], out["partition"], out["cpus"]) == (1, "long", 4)
    assert '<option value="gpu">' not in render_form(LIMITS, PROFILES, ["users"])
    assert '<option value="gpu">GPU</option>' in render_form(LIMITS, PROFILES, ["gpu"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpus", "9", "from 1 to 8"),
        ("cpus", "0", "from 1 to 8"),
        ("memory_GiB", "33", "from 1 to 32 GiB"),
        ("walltime", "10:01", "0:10 to 10:00"),
        ("walltime", "0:05", "0:10 to 10:00"),
        ("gpus", "3", "from 0 to 2"),
        ("partition", "debug", "choose one of ['short', 'long']"),
        ("image", "latest", "choose one of ['1.0', '1.1']"),
        ("cpus", True, "not a text or whole-number"),
        ("cpus", 2.5, "not a text or whole-number"),
    ],
)
def test_out_of_range_values_name_field_and_limits(field, value, message):
    with pytest.raises(OptionsError, match=field) as err:
        validate_options({**VALID, field: value}, LIMITS, PROFILES, [])
    assert message in str(err.value)


hostile_text = st.builds(
    lambda field, evil, before, after: (field, f"{before}{evil}{after}"),
    st.sampled_from(sorted(VALID)),
    st.sampled_from(EVIL),
    st.sampled_from(["", "1", "long", "2:30", "small", "1.0"]),
    st.text(max_size=20),
)
hostile_number = st.builds(
    lambda field, n: (field, n),
    st.sampled_from(["cpus", "memory_GiB", "gpus"]),
    st.one_of(st.integers(min_value=10**6), st.integers(max_value=-1)),
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(hostile_text, hostile_number))
def test_hostile_values_are_refused_with_the_field_named(case):
    field, value = case
    with pytest.raises(OptionsError) as err:
        validate_options({**VALID, field: value}, LIMITS, PROFILES, ["gpu"])
    message = str(err.value)
    assert message.startswith(f"{field}:")
    assert len(message) < 300  # the value is shown shortened, never pasted whole
    assert "\n" not in message


def test_unknown_fields_and_repeated_form_values_are_refused():
    with pytest.raises(OptionsError, match="unknown option"):
        validate_options({"srun": "x"}, LIMITS, PROFILES, [])
    with pytest.raises(OptionsError, match="exactly one value"):
        form_data_to_raw({"cpus": ["1", "2"]})
    assert form_data_to_raw({"cpus": ["2"]}) == {"cpus": "2"}


def test_form_preselects_last_valid_choice_and_escapes():
    html = render_form(LIMITS, PROFILES, [], last={"cpus": 3, "walltime": "1:15", "image": "1.1"})
    assert 'name="cpus" min="1" max="8" step="1" value="3"' in html
    assert 'value="1:15"' in html
    assert '<option value="1.1" selected>' in html
    hostile = render_form(LIMITS, PROFILES, [], last={"cpus": '"><script>x</script>'})
    assert "<script>" not in hostile
    assert 'value=""' in hostile  # an invalid last choice is not preselected
