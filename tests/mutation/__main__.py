"""Mutation testing of nncore and the harness core: run mutmut, then report per module what the tests
missed, leaving out the mutants that equivalent.txt lists as unable to change behaviour.

    python -m tests.mutation                    # every mutant (about 45 minutes on 2 cores), then the report
    python -m tests.mutation --changed REF      # only the modules changed since the git ref REF
    python -m tests.mutation --report           # the last run's report again, without running
    python -m tests.mutation --report --draft   # its survivors as equivalent.txt lines, to judge one by one

Exit status 1 when a mutant needs a look: it survived and is not listed, or no selected test reaches it.
A listed line whose mutant was killed after all is reported for deletion without failing the run (a
test that is slow under load can kill an equivalent mutant by timing out). A timeout counts as
detected: the tests did not pass with the change.
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
SEP = " | "
DETECTED = ("killed", "timeout", "segfault")


def parse_name(mutant):
    """(module, function) of a mutmut key: 'nncore.layers.xǁAffineǁforward__mutmut_4' ->
    ('nncore.layers', 'nncore.layers.Affine.forward'); 'bench.grid.x_cell_id__mutmut_2' -> a function."""
    module, _, mangled = mutant.rpartition("__mutmut_")[0].rpartition(".")
    mangled = mangled[1:]  # mutmut puts an "x" before every mangled name
    name = mangled[1:].replace("ǁ", ".") if mangled.startswith("ǁ") else mangled[1:]
    return module, f"{module}.{name}"


def changed_line(diff):
    """The mutated line(s) of a mutmut diff, stripped: what equivalent.txt keys a mutant by."""
    return " / ".join(line[1:].strip() for line in diff.splitlines()
                      if line.startswith("+") and not line.startswith("+++"))


def read_equivalent():
    """{(function, mutated line): reason} from equivalent.txt."""
    listed = {}
    for number, line in enumerate(EQUIVALENT.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        function, _, rest = line.partition(SEP)
        change, _, reason = rest.rpartition(SEP)
        if not (function.strip() and change.strip() and reason.strip()):
            sys.exit(f"{EQUIVALENT}:{number}: write FUNCTION{SEP}MUTATED LINE{SEP}WHY IT CANNOT CHANGE BEHAVIOUR")
        listed[(function.strip(), change.strip())] = reason.strip()
    return listed


def results():
    """{mutant name: (source path, status)} from mutmut's files under mutants/."""
    from mutmut.stats import status_by_exit_code

    found = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        source = meta.relative_to(ROOT / "mutants").with_suffix("")
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[name] = (source, status_by_exit_code[code])
    return found


def report(draft=False, out=sys.stdout):
    """Print the table and whatever needs a look; 1 if a mutant does, else 0."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    listed, found = read_equivalent(), results()
    used, look, table = set(), [], {}
    for name, (source, status) in found.items():
        module, function = parse_name(name)
        if status == "survived":
            diff = get_diff_for_mutant(name, path=source)
            key = (function, changed_line(diff))
            if key in listed:
                used.add(key)
                status = "equivalent"
            else:
                look.append((name, key, diff))
        table.setdefault(module, Counter())[status] += 1
    print("| module | killed | equivalent (listed) | survived | no test reaches it | not run | killed of the rest |",
          file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    for module, row in sorted(table.items()):
        killed = sum(row[s] for s in DETECTED)
        rest = sum(row.values()) - row["equivalent"]
        score = f"{100 * killed / rest:.1f}%" if rest else "-"
        not_run = rest - killed - row["survived"] - row["no tests"]
        print(f"| {module} | {killed} | {row['equivalent']} | {row['survived']} | {row['no tests']} | {not_run} | "
              f"{score} |", file=out)
    for name, (function, change), diff in look:
        if draft:
            print(f"{function}{SEP}{change}{SEP}WHY", file=out)
        else:
            print(f"\n# survived, not listed as equivalent: {name}\n{diff}", file=out)
    functions = {parse_name(name)[1] for name, (_, status) in found.items() if status != "not checked"}
    stale = [key for key in listed if key not in used and key[0] in functions]
    for function, change in stale:
        print(f"\n# listed in {EQUIVALENT.name} but no longer a survivor (delete the line): {function}{SEP}{change}",
              file=out)
    unreached = [name for name, (_, status) in found.items() if status == "no tests"]
    for name in unreached:
        print(f"# no selected test reaches {name}", file=out)
    return 1 if look or unreached else 0


def changed_modules(ref):
    """mutmut name patterns for the mutated modules whose source changed since the git ref."""
    from mutmut.configuration import config

    names = subprocess.run(["git", "diff", "--name-only", ref, "--", "nncore", "bench"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    return [str(Path(n).with_suffix("")).replace("/", ".") + ".*" for n in names
            if n.endswith(".py") and config().should_mutate(n)]


def run(patterns):
    """mutmut run, its spinner kept in mutants/mutmut.log unless a person is watching."""
    command = [sys.executable, "-m", "mutmut", "run", *patterns]
    if sys.stdout.isatty():
        subprocess.run(command, cwd=ROOT, check=True)
        return
    (ROOT / "mutants").mkdir(exist_ok=True)
    log = ROOT / "mutants" / "mutmut.log"
    start = time.monotonic()
    with open(log, "w") as f:
        code = subprocess.run(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    print(f"mutmut run {' '.join(patterns) or '(everything)'}: exit {code} after {time.monotonic() - start:.0f} s "
          f"(its output: {log.relative_to(ROOT)})")
    if code:
        print(log.read_text(errors="replace")[-3000:])
        sys.exit(code)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--changed", metavar="REF", help="run only the modules changed since this git ref")
    parser.add_argument("--report", action="store_true", help="report the last run, without running")
    parser.add_argument("--draft", action="store_true", help="print the survivors as lines for equivalent.txt")
    args = parser.parse_args(argv)
    if not args.report:
        patterns = changed_modules(args.changed) if args.changed else []
        if args.changed and not patterns:
            print(f"no mutated module changed since {args.changed}")
            return 0
        run(patterns)
    return report(draft=args.draft)


if __name__ == "__main__":
    sys.exit(main())
