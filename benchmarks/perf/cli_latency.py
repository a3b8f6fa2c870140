"""Start-up latency of the ``zoo`` command line, and what ``zoo models`` imports.

Times ``zoo --help`` and ``zoo models`` as a user runs them: the installed ``zoo`` script next
to this interpreter, in a fresh process each time, one warm-up run and then the median of
``--runs`` runs. A bare ``python -c pass`` and ``python -c 'import zoo.cli'`` are timed the
same way for scale (interpreter start; imports; the rest is the command's own work, plugin
discovery included). Then runs each
command once under ``python -X importtime`` and checks that neither imports torch, Lightning or
torchmetrics (listing parses plugin registrations only), and prints the top imports by
cumulative time.

Targets: ``zoo --help`` < 0.3 s, ``zoo models`` < 1.0 s. PASS / FAIL is printed against
them, but the exit status is 0 either way: this is a report, not a test (it is 2 only when the
``zoo`` script cannot be found or a command fails).

    python benchmarks/perf/cli_latency.py [--runs 5] [--top 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TARGETS_S = {"--help": 0.3, "models": 1.0}
HEAVY = ("torch", "lightning", "pytorch_lightning", "lightning_fabric", "torchmetrics")
NOTABLE = ("numpy", "sklearn", "scipy", "pandas", "yaml", "safetensors")


@dataclass
class Import:
    name: str
    self_us: int
    cumulative_us: int
    depth: int


def zoo_script() -> Path | None:
    """The ``zoo`` console script installed beside the running interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("zoo", "zoo.exe"):
        if (bindir / name).is_file():
            return bindir / name
    return None


def time_command(command: list[str], runs: int, warmup: int) -> list[float]:
    """Wall seconds of ``runs`` fresh processes of ``command``, after ``warmup`` unrecorded."""
    times = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: "
                               f"{done.stderr.strip()[-2000:]}")
        if i >= warmup:
            times.append(elapsed)
    return times


def import_times(command: list[str]) -> list[Import]:
    """Every module ``command`` imports, from ``python -X importtime``."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"importtime run of {' '.join(command)} exited {done.returncode}: "
                           f"{done.stderr.strip()[-2000:]}")
    imports = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3:
            continue
        self_us, cumulative_us, name = fields
        stripped = name.lstrip(" ")
        depth = (len(name) - len(stripped) - 1) // 2
        imports.append(Import(stripped.strip(), int(self_us), int(cumulative_us), depth))
    return imports


def top_level(name: str) -> str:
    return name.split(".", 1)[0]


def by_package(imports: list[Import]) -> dict[str, float]:
    """Cumulative ms per top-level package, counting each import where the package is entered
    from another one (``-X importtime`` lists a module after everything it imported)."""
    totals: dict[str, float] = {}
    parents: list[Import] = []  # pending parents, deepest last, while walking backwards
    for entry in reversed(imports):
        while parents and parents[-1].depth >= entry.depth:
            parents.pop()
        parent = parents[-1] if parents else None
        package = top_level(entry.name)
        if parent is None or top_level(parent.name) != package:
            totals[package] = totals.get(package, 0.0) + entry.cumulative_us / 1e3
        parents.append(entry)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def summary(times: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--warmup", type=int, default=1, help="unrecorded runs first")
    parser.add_argument("--top", type=int, default=5, help="imports listed per command")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    script = zoo_script()
    if script is None:
        print(f"no zoo script next to {sys.executable}; install zoo into this environment "
              "(make install)", file=sys.stderr)
        return 2
    print("# zoo CLI latency\n")
    print(f"date={time.strftime('%Y-%m-%d %H:%M:%S %Z')}, python={platform.python_version()}, "
          f"cpus={os.cpu_count()}, load_avg={[round(v, 2) for v in os.getloadavg()]}, "
          f"script={script}\n")

    report: dict[str, object] = {"script": str(script)}
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "python -c 'import zoo.cli'": [sys.executable, "-c", "import zoo.cli"],
                "zoo --help": [str(script), "--help"],
                "zoo models": [str(script), "models"]}
    print("| command | median s | min s | max s | target s | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    verdicts = []
    try:
        for label, command in commands.items():
            stats = summary(time_command(command, args.runs, args.warmup))
            target = TARGETS_S.get(command[-1]) if label.startswith("zoo") else None
            verdict = "" if target is None else ("PASS" if stats["median_s"] < target
                                                 else "FAIL")
            if verdict:
                verdicts.append(f"{verdict}: {label} median {stats['median_s']:.3f} s "
                                f"(target < {target} s)")
            report[label] = {**stats, "target_s": target, "verdict": verdict}
            print(f"| `{label}` | {stats['median_s']:.3f} | {stats['min_s']:.3f} | "
                  f"{stats['max_s']:.3f} | {target if target is not None else ''} | "
                  f"{verdict} |")

        for label, command in (("zoo --help", [str(script), "--help"]),
                               ("zoo models", [str(script), "models"])):
            imports = import_times(command)
            loaded = {top_level(i.name) for i in imports}
            heavy = sorted(loaded & set(HEAVY))
            notable = sorted(loaded & set(NOTABLE))
            total_ms = sum(i.self_us for i in imports) / 1e3
            verdict = "PASS" if not heavy else "FAIL"
            verdicts.append(f"{verdict}: {label} imports "
                            f"{', '.join(heavy) if heavy else 'no torch / lightning'}")
            print(f"\n## `python -X importtime {script.name} {' '.join(command[1:])}`: "
                  f"{len(imports)} modules, {total_ms:.0f} ms of import time\n")
            print(f"heavy modules imported: {', '.join(heavy) or 'none'} ({verdict}); "
                  f"other notable: {', '.join(notable) or 'none'}\n")
            print(f"top {args.top} by cumulative time (a module's time includes what it "
                  "imports):\n")
            print("| module | depth | cumulative ms | self ms |\n|---|---:|---:|---:|")
            for i in sorted(imports, key=lambda i: -i.cumulative_us)[:args.top]:
                print(f"| {i.name} | {i.depth} | {i.cumulative_us / 1e3:.1f} | "
                      f"{i.self_us / 1e3:.1f} |")
            print(f"\ntop {args.top} by self time:\n")
            print("| module | self ms |\n|---|---:|")
            for i in sorted(imports, key=lambda i: -i.self_us)[:args.top]:
                print(f"| {i.name} | {i.self_us / 1e3:.1f} |")
            packages = by_package(imports)
            print(f"\ntop {args.top} top-level packages (cumulative, with what they import):\n")
            print("| package | cumulative ms |\n|---|---:|")
            for name, ms in list(packages.items())[:args.top]:
                print(f"| {name} | {ms:.1f} |")
            report[f"{label} imports"] = {
                "modules": len(imports), "import_ms": total_ms, "heavy": heavy,
                "notable": notable, "verdict": verdict, "packages_ms": packages,
                "top_cumulative": [vars(i) for i in
                                   sorted(imports, key=lambda i: -i.cumulative_us)[:args.top]],
            }
    except RuntimeError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2

    print("\n## Verdicts\n")
    for line in verdicts:
        print(f"- {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.json}")
    return 0  # a report: targets missed are printed, not an error


if __name__ == "__main__":
    raise SystemExit(main())
