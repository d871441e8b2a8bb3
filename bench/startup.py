"""Benchmark: start-up of ``core --version``, ``core --help`` and ``corebot --help``.

    .venv/bin/python bench/startup.py              # best of 7
    .venv/bin/python bench/startup.py --repeats 15

Each command is a new process, run in turns with the baselines (``python -c pass``, the
interpreter alone, and ``python -c 'import pyarrow'``) so that a busy machine slows all
of them alike; the best of N wall-clock times of each is kept, and the CPU time (user +
system) of that best run is shown beside it. "imports" is what ``python -X importtime``
counts for the command (the modules it loads). Target: each command <= 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_SECONDS = 0.3

CASES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import pyarrow'": [sys.executable, "-c", "import pyarrow"],
    "core --version": [str(BIN / "core"), "--version"],
    "core --help": [str(BIN / "core"), "--help"],
    "corebot --help": [str(BIN / "corebot"), "--help"],
}
TARGETED = ("core --version", "core --help", "corebot --help")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def module_count(command: list[str]) -> int:
    """How many modules the command imports (``-X importtime`` lines)."""
    program = command[0]
    if program != sys.executable:  # a console script: run its entry point under -X importtime
        name = Path(program).name
        module = "core.cli" if name == "core" else "corebot.cli"
        code = f"import sys; from {module} import main; main(sys.argv[1:])"
        command = [sys.executable, "-c", code, *command[1:]]
    command = [command[0], "-X", "importtime", *command[1:]]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for name, command in CASES.items():
            wall, cpu = timed(command)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    baseline = best["python -c pass (baseline)"][0]
    print(f"best of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    print()
    print("| command | wall s | cpu s | vs python -c pass | imports | target |")
    print("|---|---|---|---|---|---|")
    for name, command in CASES.items():
        wall, cpu = best[name]
        target = ""
        if name in TARGETED:
            target = f"<= {TARGET_SECONDS} s: " + ("met" if wall <= TARGET_SECONDS else "missed")
        print(
            f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / baseline:.1f}x | "
            f"{module_count(command)} | {target} |"
        )


if __name__ == "__main__":
    main()
