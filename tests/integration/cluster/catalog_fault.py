"""A catalog writer on a host that is cut off mid-transaction, and one that must go on.

    python catalog_fault.py hold URL DATASET RUN FILE FOLDER TIMEOUT_S   → JSON on stdout
    python catalog_fault.py write URL DATASET RUN FILE TIMEOUT_S         → JSON on stdout

``hold`` opens a transaction, adds run RUN and FILE in it, touches ``FOLDER/holding`` and
then sends nothing until ``FOLDER/release`` appears (a host that froze, or whose link went
down, between two statements); then it tries to commit and says how that went. ``write``
adds run RUN and FILE (the same run, and the same day's growth row, as the holder's) and
says how long each call took. ``TIMEOUT_S`` is the catalog's ``timeout_s``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from analysis_lib.catalog import Catalog, CatalogError


def hold(url: str, dataset: str, run: int, file: str, folder: str, timeout_s: float) -> dict:
    cat = Catalog.open(url, create=False, timeout_s=timeout_s)
    try:
        with cat.transaction():
            cat.add_run(dataset, run, run_type="physics")
            cat.add_file(file, dataset=dataset, run=run)
            (Path(folder) / "holding").touch()
            deadline = time.monotonic() + 120
            while not (Path(folder) / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
    except CatalogError as e:
        return {"committed": False, "error": str(e)}
    finally:
        cat.close()
    return {"committed": True, "error": None}


def write(url: str, dataset: str, run: int, file: str, timeout_s: float) -> dict:
    cat = Catalog.open(url, create=False, timeout_s=timeout_s)
    seconds = {}
    try:
        t = time.perf_counter()
        cat.add_run(dataset, run, run_type="physics")
        seconds["add_run"] = time.perf_counter() - t
        t = time.perf_counter()
        cat.add_file(file, dataset=dataset, run=run)
        seconds["add_file"] = time.perf_counter() - t
    except CatalogError as e:
        return {"error": str(e), "seconds": seconds, "failed_after_s": time.perf_counter() - t}
    finally:
        cat.close()
    return {"error": None, "seconds": seconds}


def main() -> None:
    mode, url, dataset, run, file, *rest = sys.argv[1:]
    if mode == "hold":
        out = hold(url, dataset, int(run), file, rest[0], float(rest[1]))
    else:
        out = write(url, dataset, int(run), file, float(rest[0]))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
