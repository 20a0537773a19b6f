"""deploy/monitoring/ checked with Debian's own promtool and amtool.

- ``prometheus.yml`` and the rules pass ``promtool check``; the rules' unit tests
  (``rules/rarehub.rules.test.yml``) pass ``promtool test rules`` — and fail when a
  threshold or a ``for:`` duration in the rules is changed, so they really pin both;
- ``alertmanager.yml`` passes ``amtool check-config`` and routes critical alerts to the
  webhook-and-mail receiver, everything else to the webhook.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from rarehub_testing import REPO, require_executable

MONITORING = REPO / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "rarehub.rules.yml"
RULE_TESTS = MONITORING / "rules" / "rarehub.rules.test.yml"


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_executable("promtool", "Debian package prometheus (tests/debian-packages.txt)")


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_executable(
        "amtool", "Debian package prometheus-alertmanager (tests/debian-packages.txt)"
    )


def test_prometheus_config_and_rules_pass_promtool_check(promtool, tmp_path):
    # promtool opens the token file the hub job names: give it one where the copy points
    shutil.copytree(MONITORING, tmp_path / "monitoring")
    config = tmp_path / "monitoring" / "prometheus.yml"
    token = tmp_path / "hub-token"
    token.write_text("not-a-real-token\n")
    config.write_text(config.read_text().replace("/etc/prometheus/rarehub-hub-token", str(token)))
    r = run([promtool, "check", "config", str(config)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 1 rule files found" in r.stdout + r.stderr
    r = run([promtool, "check", "rules", str(RULES)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 10 rules found" in r.stdout + r.stderr


def test_rule_unit_tests_pass(promtool):
    r = run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("rarehub_storage_volume_days_to_full < 14", "rarehub_storage_volume_days_to_full <= 14"),
        ("rarehub_storage_volume_used_ratio > 0.95", "rarehub_storage_volume_used_ratio >= 0.95"),
        ("< 14\n        for: 30m", "< 14\n        for: 25m"),
        ("< 3\n        for: 10m", "< 3\n        for: 12m"),
        ("[30m]))) > 120", "[30m]))) > 300"),
        ("(rarehub_archiver_last_sample_timestamp_seconds) > 600", "(x) > 600"),
        ("[10m]) >= 3", "[10m]) >= 10"),
    ],
)
def test_rule_unit_tests_catch_a_changed_threshold_or_duration(
    promtool, tmp_path, original, mutant
):
    text = RULES.read_text()
    assert original in text
    (tmp_path / RULES.name).write_text(text.replace(original, mutant, 1))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    r = run([promtool, "test", "rules", RULE_TESTS.name], cwd=tmp_path)
    assert r.returncode != 0, f"the rule tests did not notice {original!r} → {mutant!r}"
    assert "FAILED" in r.stdout + r.stderr


def test_alertmanager_config_routes_and_inhibits(amtool):
    config = MONITORING / "alertmanager.yml"
    r = run([amtool, "check-config", str(config)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 inhibit rules" in r.stdout
    assert "2 receivers" in r.stdout

    def receiver(*labels: str) -> str:
        r = run([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    assert receiver("alertname=RareHubVolumeFillingUp", "severity=critical") == (
        "team-webhook-and-mail"
    )
    assert receiver("alertname=RareHubVolumeFillingUp", "severity=warning") == "team-webhook"
    assert receiver("alertname=RareHubBadRunsFlagged", "severity=warning") == "team-webhook"


# Grafana's dashboard schema is CUE (grafana/grafana kinds/dashboard), not installable here and
# not a JSON Schema; this is its required structure for what these dashboards use, written out
# from the kind's schema reference (docs/sources/developers/kinds/core/dashboard): schemaVersion
# (uint16) required; panels with a type, gridPos {h > 0, 0 < w ≤ 24, 0 ≤ x < 24, y ≥ 0} and
# targets with a refId; time {from, to}; templating {list}. Stricter than Grafana where it
# costs nothing (ids unique, panels inside the 24-column grid and not overlapping).
_DATASOURCE = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"const": "${datasource}"}},
}
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "time", "templating", "editable"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 36, "maximum": 65535},
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "refresh": {"type": "string", "pattern": "^[0-9]+[smhd]$"},
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
        },
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {"type": {"enum": ["datasource", "query", "custom"]}},
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "type": {"enum": ["timeseries", "stat", "gauge", "bargauge", "table"]},
                    "title": {"type": "string", "minLength": 1},
                    "datasource": _DATASOURCE,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                    },
                    "fieldConfig": {
                        "type": "object",
                        "required": ["defaults", "overrides"],
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr", "datasource"],
                            "properties": {
                                "refId": {"type": "string", "pattern": "^[A-Z]$"},
                                "expr": {"type": "string", "minLength": 1},
                                "datasource": _DATASOURCE,
                            },
                        },
                    },
                },
            },
        },
    },
}
DASHBOARDS = sorted((MONITORING / "dashboards").glob("*.json"))


def test_the_three_dashboards_exist():
    assert [p.name for p in DASHBOARDS] == [
        "rarehub-beam.json",
        "rarehub-hub.json",
        "rarehub-storage.json",
    ]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_follows_grafanas_dashboard_structure(path):
    import json

    import jsonschema

    dashboard = json.loads(path.read_text())
    jsonschema.validate(dashboard, DASHBOARD_SCHEMA)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, f"{p['title']}: beyond the 24-column grid"
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        refs = [t["refId"] for t in p["targets"]]
        assert len(set(refs)) == len(refs), f"{p['title']}: refIds repeat"
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert "datasource" in names  # every panel's ${datasource}
