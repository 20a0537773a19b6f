"""What the image promises: its packages, its commands, its metadata and its tutorials."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib

from rarehub_image import IMAGE_TUTORIALS, podman, run_in_image

from rarehub_testing import REPO

# Runs inside the image: import every module of each distribution named on the command line
# (top-level modules found from the installed metadata), then the extra module names.
IMPORT_EVERYTHING = r"""
import importlib, importlib.metadata as md, json, re, sys

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

dists, extra_modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
modules_of = {}
for module, names in md.packages_distributions().items():
    for name in names:
        modules_of.setdefault(canonical(name), set()).add(module)
imported, missing = {}, []
for dist in dists:
    modules = sorted(m for m in modules_of.get(canonical(dist), ()) if m.isidentifier()
                     and not m.startswith("_"))
    if not modules:
        missing.append(dist)
    for module in modules:
        importlib.import_module(module)
    imported[dist] = modules
for module in extra_modules:
    importlib.import_module(module)
print(json.dumps({"imported": imported, "missing": missing}))
"""


def promised_distributions() -> list[str]:
    """The library's dependencies and the ``lab`` extra, from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["lab"]
    return sorted({re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements})


def source_version() -> str:
    text = (REPO / "analysis_lib" / "__init__.py").read_text()
    return re.search(r'^__version__ = "(.+)"$', text, re.MULTILINE).group(1)


def test_every_promised_package_imports(rarehub_image, bound_home):
    dists = promised_distributions()
    assert {"jupyterlab", "jupyter-server-proxy", "batchspawner", "holoviews"} <= set(dists)
    extra = ["analysis_lib", "rarehub_hub", "dask.dataframe", "distributed", "jupyterhub"]
    out = run_in_image(
        rarehub_image,
        bound_home,
        "python",
        "-W",
        "error",
        "-c",
        IMPORT_EVERYTHING,
        json.dumps(dists),
        json.dumps(extra),
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["missing"] == [], f"promised but not installed: {result['missing']}"
    assert set(result["imported"]) == set(dists)
    assert out.stderr == ""


def test_compiled_libraries_work_after_stripping(rarehub_image, bound_home):
    # The build strips debug sections from shared libraries: exercise the big ones.
    code = (
        "import h5py, hdf5plugin, numpy as np, numba, scipy.linalg, pyarrow as pa\n"
        "x = np.arange(10_000, dtype='i2')\n"
        "with h5py.File('/tmp/t.h5', 'w') as f:\n"
        "    f.create_dataset('x', data=x, **hdf5plugin.Blosc2(cname='zstd'))\n"
        "with h5py.File('/tmp/t.h5') as f:\n"
        "    assert (f['x'][:] == x).all()\n"
        "assert numba.njit(lambda a: a.sum())(x) == x.sum()\n"
        "assert abs(scipy.linalg.det(np.eye(3) * 2) - 8) < 1e-12\n"
        "assert pa.array(x).sum().as_py() == x.sum()\n"
        "print('ok')\n"
    )
    out = run_in_image(rarehub_image, bound_home, "python", "-c", code)
    assert out.stdout.strip() == "ok"


def test_commands_are_on_the_path(rarehub_image, bound_home):
    out = run_in_image(rarehub_image, bound_home, "rarehub", "--version")
    assert out.stdout.strip() == f"rarehub {source_version()}"
    commands = ["jupyter-lab", "jupyterhub-singleuser", "batchspawner-singleuser", "uv"]
    out = run_in_image(rarehub_image, bound_home, "bash", "-c", "command -v " + " ".join(commands))
    assert [line.rsplit("/", 1)[1] for line in out.stdout.split()] == commands


def test_dev_tools_are_not_in_the_image(rarehub_image, bound_home):
    # The lab environment is --no-dev: test and lint tools stay out of it.
    out = run_in_image(
        rarehub_image,
        bound_home,
        "python",
        "-c",
        "import importlib.util as u; print([m for m in ('pytest', 'ruff', 'sphinx') "
        "if u.find_spec(m)])",
    )
    assert out.stdout.strip() == "[]"


def test_tutorials_are_inside(rarehub_image, bound_home):
    out = run_in_image(
        rarehub_image, bound_home, "bash", "-c", 'cd "$RAREHUB_TUTORIALS" && sha256sum *.ipynb'
    )
    inside = dict(reversed(line.split()) for line in out.stdout.splitlines())
    expected = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((REPO / "tutorials").glob("*.ipynb"))
    }
    assert inside == expected
    out = run_in_image(rarehub_image, bound_home, "printenv", "RAREHUB_TUTORIALS")
    assert out.stdout.strip() == IMAGE_TUTORIALS


def test_labels_user_and_healthcheck(rarehub_image):
    (info,) = json.loads(podman("image", "inspect", rarehub_image).stdout)
    labels = info["Labels"]
    assert labels["org.opencontainers.image.version"] == source_version()
    lock = hashlib.sha256((REPO / "uv.lock").read_bytes()).hexdigest()
    assert labels["org.rarehub.uv-lock.sha256"] == lock
    # The commit the image was built at (build.sh: "unknown" outside a git checkout).
    revision = r"[0-9a-f]{40}(-dirty)?" if (REPO / ".git").exists() else "unknown"
    assert re.fullmatch(revision, labels["org.opencontainers.image.revision"])
    assert info["Config"]["User"] == "1000:1000", "the image must end as a non-root user"
    assert info["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/rarehub-healthcheck"]


def test_the_runtime_environment_carries_no_build_only_variables(rarehub_image):
    """DEBIAN_FRONTEND and uv's UV_* settings serve the build only: podman, Apptainer and
    Charliecloud runs see the image's environment, which holds what the lab needs."""
    (info,) = json.loads(podman("image", "inspect", rarehub_image).stdout)
    names = {e.partition("=")[0] for e in info["Config"]["Env"]}
    build_only = sorted(n for n in names if n == "DEBIAN_FRONTEND" or n.startswith("UV_"))
    assert build_only == [], f"build-only variables in the image's environment: {build_only}"
    assert {"PATH", "LANG", "RAREHUB_TUTORIALS"} <= names
    # … and what a container actually sees
    seen = podman("run", "--rm", "--network=none", rarehub_image, "env").stdout.splitlines()
    assert not [v for v in seen if v.startswith(("DEBIAN_FRONTEND=", "UV_"))], seen


def test_any_uid_without_a_home_gets_one_under_tmp(rarehub_image):
    # Read-only root, a UID unknown to the image, no HOME bound: the entry point falls back
    # to a private folder under /tmp, and programs can write there.
    out = podman(
        "run",
        "--rm",
        "--read-only",
        "--no-healthcheck",
        "--user=4242:4242",
        rarehub_image,
        "bash",
        "-c",
        'echo "$HOME $PWD"; touch "$HOME/written" && stat -c %a "$HOME"',
    )
    assert out.stdout.split() == ["/tmp/home-4242", "/tmp/home-4242", "700"]
