"""Runs a command and prints its wall time and peak resident memory as JSON.

    python measure.py -- CMD ARGS...   ->  {"wall_s": 0.21, "peak_rss_mb": 98.4, "status": 0}

Peak memory is the child's ru_maxrss from wait4, so it covers the whole process (a
Python interpreter and its imports, or our binary), measured the same way for both.
"""

import json
import os
import subprocess
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    err = child.stderr.read().decode(errors="replace") if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "status": code, "stderr": err[-500:]}))


if __name__ == "__main__":
    main()
