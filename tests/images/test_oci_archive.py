"""The second half of images/build.sh: the oci-archive that Apptainer builds the SIF from.

No Apptainer runtime can be installed here, so the archive is checked against the OCI
image layout that ``apptainer build x.sif oci-archive://…`` (and rarehub.def) reads: one
tagged manifest whose config carries the image's labels, entry point and user, and whose
layer blobs are all present with the promised digests.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile

from rarehub_image import BUILD_SCRIPT, podman_env


def test_build_script_saves_an_oci_archive(rarehub_image, tmp_path):
    archive = tmp_path / "rarehub.oci.tar"
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--archive", str(archive)],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == rarehub_image, "same tree, same image"
    assert "this source tree is already built" in result.stderr
    assert not list(tmp_path.glob("*.tmp")), "no half-written archive may be left behind"

    with tarfile.open(archive) as tar:

        def blob(digest: str) -> bytes:
            algorithm, hexdigest = digest.split(":")
            data = tar.extractfile(f"blobs/{algorithm}/{hexdigest}").read()
            assert hashlib.sha256(data).hexdigest() == hexdigest
            return data

        assert json.loads(tar.extractfile("oci-layout").read())["imageLayoutVersion"]
        (entry,) = json.loads(tar.extractfile("index.json").read())["manifests"]
        assert entry["annotations"]["org.opencontainers.image.ref.name"].startswith(
            "localhost/rarehub:"
        )
        manifest = json.loads(blob(entry["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))["config"]
        assert config["Labels"]["org.opencontainers.image.title"] == "RareHub"
        assert config["Entrypoint"][-1] == "/usr/local/bin/rarehub-entrypoint"
        assert config["User"] == "1000:1000"
        names = set(tar.getnames())
        for layer in manifest["layers"]:
            algorithm, hexdigest = layer["digest"].split(":")
            assert f"blobs/{algorithm}/{hexdigest}" in names
