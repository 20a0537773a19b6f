"""Slow work happens before a transaction opens, also in the command line: a writer
registering a file while ``rarehub catalog add`` registers big ones waits for the command's
short transaction, never for its hashing. Both backends, the real command in its own
process, real (sparse) files.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

from analysis_lib.catalog import Catalog, sha256_file

BIG_MiB = 384  # about 1 s of hashing each on this busy 2-core machine


def big_files(folder, n: int) -> list:
    out = []
    for i in range(n):
        f = folder / f"run1_big{i}.bin"
        with f.open("wb") as fh:
            fh.truncate(BIG_MiB << 20)  # sparse: no disk used, still read and hashed whole
        out.append(f)
    return out


def test_catalog_add_hashes_before_its_transaction(catalog_target, tmp_path):
    big = big_files(tmp_path, 2)
    with Catalog.open(catalog_target) as cat:
        cat.add_dataset("d")
    t = time.perf_counter()
    zeros = sha256_file(big[0])
    hash_s = time.perf_counter() - t
    add = subprocess.Popen(
        [sys.executable, "-m", "analysis_lib", "catalog", "--db", str(catalog_target),
         "add", "--dataset", "d", "--run", "1", *map(str, big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    waits = []
    with Catalog.open(catalog_target) as cat:
        while add.poll() is None:  # another writer, registering small files meanwhile
            small = tmp_path / f"small{len(waits)}.csv"
            small.write_text(f"{len(waits)}\n")
            t = time.perf_counter()
            cat.add_file(small, dataset="d")
            waits.append(time.perf_counter() - t)
            time.sleep(0.02)
        _, err = add.communicate()
        assert add.returncode == 0, err
        assert [cat.file(f)["sha256"] for f in big] == [zeros, zeros]
        assert zeros == hashlib.sha256(bytes(BIG_MiB << 20)).hexdigest()
    print(f"\nlongest of {len(waits)} waits {max(waits):.3f} s; one file hashes in {hash_s:.2f} s")
    assert len(waits) >= 5, "the other writer must have run while the command did"
    # Hashing one file inside the command's transaction would make some wait >= hash_s.
    assert max(waits) < 0.4 * hash_s, (max(waits), hash_s)
