"""The lab extension's logic in node: when it warns, how often, and what it says.

``remoteEntry.js`` is loaded as JupyterLab loads it (the module-federation container's
``init``/``get``), into a node ``vm`` context whose clock, ``fetch`` and ``setInterval`` the
harness drives: the endpoint's answers are given, time advances in the extension's own 5 s
checks, and the notifications it asks JupyterLab for (``apputils:notify``) are recorded.
The real JupyterLab and Slurm: tests/browser/test_walltime_warning.py.
"""

from __future__ import annotations

import json
import re
import subprocess

from rarehub_hub.singleuser import JUPYTER_DIR
from rarehub_testing import require_executable

ENTRY = JUPYTER_DIR / "data/labextensions/rarehub-walltime-warning/static/remoteEntry.js"

HARNESS = r"""
const vm = require('vm');
const fs = require('fs');
const [entry, answersJson, stepsText] = process.argv.slice(1);
const answers = JSON.parse(answersJson);
const START = 1800000000000;
let now = START;
const elapsed = () => (now - START) / 1000;
const intervals = [];
const notes = [];
const asked = [];
const RealDate = Date;
class FakeDate extends RealDate {
  constructor(...args) { if (args.length) { super(...args); } else { super(now); } }
  static now() { return now; }
}
const sandbox = {
  console, Promise, Math, JSON, Error, Date: FakeDate,
  fetch: (url, options) => {
    asked.push(url);
    const given = answers.length > 1 ? answers.shift() : answers[0];
    // A real server counts down: "end_s" (seconds after the start) → remaining_s now.
    const body = { ...given };
    if ('end_s' in given) { body.remaining_s = given.end_s - elapsed(); delete body.end_s; }
    const ok = !('message' in body);
    return Promise.resolve({ ok, status: ok ? 200 : 500, json: () => Promise.resolve(body) });
  },
  setInterval: (fn, ms) => { intervals.push([fn, ms]); },
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(entry, 'utf8'), sandbox);
const settle = () => new Promise(resolve => setTimeout(resolve, 0));
(async () => {
  const container = sandbox._JUPYTERLAB['rarehub-walltime-warning'];
  await container.init({});
  const exported = (await container.get('./extension'))();
  const app = {
    serviceManager: { serverSettings: { baseUrl: 'http://127.0.0.1:1/user/a', token: '' } },
    restored: Promise.resolve(),
    commands: {
      execute: (id, args) => {
        notes.push({ id, args, t: elapsed() });
        return Promise.resolve();
      }
    },
  };
  for (const plugin of exported.default) { plugin.activate(app); }
  for (let i = 0; i < 5; i++) { await settle(); }
  for (let i = 0; i < Number(stepsText); i++) {
    now += intervals[0][1];
    intervals.forEach(([fn]) => fn());
    for (let k = 0; k < 5; k++) { await settle(); }
  }
  console.log(JSON.stringify({ notes, asked, interval_ms: intervals.map(x => x[1]) }));
})();
"""


def run(answers: list[dict], seconds: int) -> dict:
    node = require_executable("node", "the lab extension runs in node here (./dev installs it)")
    steps = str(seconds // 5)
    r = subprocess.run(
        [node, "-e", HARNESS, str(ENTRY), json.dumps(answers), steps],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def answer(end_s: float | None, warn: list[float], job: str | None = "42") -> dict:
    """The endpoint's answer for a job ending ``end_s`` after the harness starts."""
    if end_s is None:
        return {"job_id": job, "remaining_s": None, "warn_minutes": warn}
    return {"job_id": job, "end_s": end_s, "warn_minutes": warn}


def left_s(message: str) -> int:
    m = re.search(r"ends in (?:(\d+) min )?(\d+) s", message)
    assert m, message
    return int(m[1] or 0) * 60 + int(m[2])


def test_warns_once_per_threshold_with_the_time_left():
    out = run([answer(200, [3, 1])], seconds=260)
    assert out["interval_ms"] == [5000]
    assert [n["id"] for n in out["notes"]] == ["apputils:notify", "apputils:notify"]
    first, second = (n["args"] for n in out["notes"])
    assert first["type"] == second["type"] == "warning"
    assert first["options"] == {"autoClose": False}  # stays until the user closes it
    assert first["message"].startswith("Slurm job 42 ends in ")
    assert "Save your work" in first["message"]
    assert len(first["message"]) <= 140  # JupyterLab's toasts cut longer messages
    # Each shown at the first 5 s check past its threshold, with the time then left.
    t1, t2 = (n["t"] for n in out["notes"])
    assert 175 <= left_s(first["message"]) <= 180
    assert left_s(first["message"]) == 200 - t1
    assert 55 <= left_s(second["message"]) <= 60
    assert left_s(second["message"]) == 200 - t2


def test_opened_late_shows_only_the_most_urgent_warning():
    out = run([answer(50, [10, 3, 1])], seconds=120)
    (note,) = out["notes"]
    assert left_s(note["args"]["message"]) == 50


def test_not_a_slurm_job_never_warns_but_keeps_asking_each_minute():
    out = run([answer(None, [10, 2], job=None)], seconds=180)
    assert out["notes"] == []
    assert out["asked"] == ["http://127.0.0.1:1/user/a/rarehub/walltime"] * 4


def test_a_longer_time_limit_from_the_server_postpones_the_warning():
    # At the refresh after a minute the job ends at 1000 s instead of 400 s (an admin
    # extended it): no warning at 220 s (400 - 3 min), which would come without the refresh.
    out = run([answer(400, [3]), answer(1000, [3])], seconds=300)
    assert out["notes"] == []


def test_an_endpoint_error_shows_no_warning():
    out = run([{"message": "RAREHUB_JOB_END='soon' is not ..."}], seconds=30)
    assert out["notes"] == []
