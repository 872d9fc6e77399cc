"""Mutation testing of nncore and the harness core: run mutmut, then report per module what the tests
missed, leaving out the mutants that equivalent.txt lists as unable to change behaviour.

    python -m tests.mutation                    # every mutant (about 45 minutes on 2 cores), then the report
    python -m tests.mutation --changed          # the mutants of functions changed since the table's commit
    python -m tests.mutation --changed REF --cap 200 --seed 0   # ... since REF, a seeded sample of 200 at most
    python -m tests.mutation 'nncore.layers.*'  # the mutants mutmut's name patterns match
    python -m tests.mutation --report           # the last run's report again, without running
    python -m tests.mutation --report --draft   # its survivors as equivalent.txt lines, to judge one by one

The table in docs/testing.md names the commit it was measured at; `--changed` without a ref starts from
that commit, so CI tests what changed since the table and no more (a function is changed when its
syntax tree is). Exit status 1 when a mutant needs a look: it survived and is not listed, or no selected
test reaches it. A listed line whose mutant was killed after all is reported for deletion without
failing the run (a test that is slow under load can kill an equivalent mutant by timing out). A timeout
counts as detected: the tests did not pass with the change.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.txt")
TABLE = ROOT / "docs" / "testing.md"
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


def forget(patterns):
    """Drop the recorded result of every survivor (and unreached mutant) that `patterns` match, so this
    run tries it against the current tests: mutmut reruns no mutant whose function is unchanged, even
    when the tests have changed. A killed mutant stays killed (tests are only added). How many dropped."""
    from mutmut.stats import status_by_exit_code

    dropped = 0
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        again = [name for name, code in codes.items() if status_by_exit_code[code] in ("survived", "no tests")
                 and any(fnmatch(name, p) for p in patterns)]
        if again:
            codes.update(dict.fromkeys(again))
            meta.write_text(json.dumps(data))
            dropped += len(again)
    return dropped


def report(draft=False, only=None, out=sys.stdout):
    """Print the table and whatever needs a look (of the mutants whose names match `only`'s names or
    patterns, if given); 1 if a mutant does, else 0."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    listed, found = read_equivalent(), results()
    if only is not None:
        found = {name: v for name, v in found.items() if any(fnmatch(name, pattern) for pattern in only)}
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
    unchecked = {parse_name(name)[1] for name, (_, status) in found.items() if status == "not checked"}
    checked = {parse_name(name)[1] for name in found} - unchecked  # every mutant of the function was run
    stale = [key for key in listed if key not in used and key[0] in checked]
    for function, change in stale:
        print(f"\n# listed in {EQUIVALENT.name} but no longer a survivor (delete the line): {function}{SEP}{change}",
              file=out)
    unreached = [name for name, (_, status) in found.items() if status == "no tests"]
    for name in unreached:
        print(f"# no selected test reaches {name}", file=out)
    return 1 if look or unreached else 0


def table_commit():
    """The commit docs/testing.md's mutation table was measured at."""
    found = re.search(r"measured at commit `([0-9a-f]{7,40})`", TABLE.read_text(encoding="utf-8"), re.IGNORECASE)
    if not found:
        sys.exit(f"{TABLE}: no line 'measured at commit `SHA`': name the commit the table was measured at")
    return found.group(1)


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def changed_mutants(ref):
    """(names of the mutants of every mutated function whose syntax tree differs from its own at the git
    ref or is new, {function: its mutant count})."""
    from mutmut.configuration import config
    from mutmut.mutation.file_mutation import compute_function_hashes, mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode:
        sys.exit(f"no commit {ref!r} in this clone: name one with --changed REF, or fetch the history")
    names, counts = [], Counter()
    listed = git("ls-files", "--", *map(str, config().source_paths)).stdout.split()
    for path in (Path(p) for p in listed if p.endswith(".py") and config().should_mutate(p)):
        new = (ROOT / path).read_text(encoding="utf-8")
        before = git("show", f"{ref}:{path.as_posix()}")
        old = compute_function_hashes(before.stdout) if before.returncode == 0 else {}
        changed = {f for f, h in compute_function_hashes(new).items() if old.get(f) != h}
        for mutant in mutate_file_contents(str(path), new).mutant_names:
            if mutant.partition("__mutmut_")[0] in changed:
                names.append(get_mutant_name(path, mutant))
                counts[parse_name(names[-1])[1]] += 1
    return names, counts


def sample(names, counts, cap, seed):
    """At most `cap` of the names, a seeded sample when there are more; says what it chose and why."""
    for function, count in sorted(counts.items()):
        print(f"  {function}: {count} mutants")
    if cap is None or len(names) <= cap:
        print(f"{len(names)} mutants in {len(counts)} changed functions, every one run")
        return names
    chosen = sorted(random.Random(seed).sample(sorted(names), cap))
    print(f"{len(names)} mutants in {len(counts)} changed functions: a sample of {cap} drawn with seed {seed} "
          f"(--cap {cap} --seed {seed}); the names are in mutants/sample.txt")
    (ROOT / "mutants").mkdir(exist_ok=True)
    (ROOT / "mutants" / "sample.txt").write_text("".join(f"{n}\n" for n in chosen), encoding="utf-8")
    return chosen


def run(patterns):
    """mutmut run, its spinner kept in mutants/mutmut.log unless a person is watching. Its home folder
    is one under mutants/: a mutant that misspells a cache variable writes there, not in the user's home."""
    command = [sys.executable, "-m", "mutmut", "run", *patterns]
    home = ROOT / "mutants" / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home)}
    if sys.stdout.isatty():
        subprocess.run(command, cwd=ROOT, check=True, env=env)
        return
    log = ROOT / "mutants" / "mutmut.log"
    start = time.monotonic()
    with open(log, "w") as f:
        code = subprocess.run(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    named = " ".join(patterns[:3]) + (f" ... ({len(patterns)} in all)" if len(patterns) > 3 else "")
    print(f"mutmut run {named or '(everything)'}: exit {code} after {time.monotonic() - start:.0f} s "
          f"(its output: {log.relative_to(ROOT)})")
    if code:
        print(log.read_text(errors="replace")[-3000:])
        sys.exit(code)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("patterns", nargs="*", help="mutmut name patterns, e.g. 'nncore.layers.*': only these")
    parser.add_argument("--changed", nargs="?", const="", metavar="REF",
                        help="only the mutants of functions changed since REF (default: the commit of the "
                             "table in docs/testing.md)")
    parser.add_argument("--cap", type=int, metavar="N", help="with --changed: at most N mutants, a seeded sample")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--report", action="store_true", help="report the last run, without running")
    parser.add_argument("--draft", action="store_true", help="print the survivors as lines for equivalent.txt")
    args = parser.parse_args(argv)
    if args.cap is not None and (args.changed is None or args.cap < 1):
        parser.error("--cap takes a whole number of 1 or more, with --changed")
    patterns, only = args.patterns, args.patterns or None
    if args.changed is not None:
        ref = args.changed or table_commit()
        print(f"mutated functions changed since {ref}:")
        names, counts = changed_mutants(ref)
        if not names:
            print(f"no mutated function changed since {ref}")
            return 0
        patterns = only = sample(names, counts, args.cap, args.seed)
    if not args.report:
        dropped = forget(patterns or ["*"])
        if dropped:
            print(f"{dropped} survivors of an earlier run are tried again")
        run(patterns)
    return report(draft=args.draft, only=only)


if __name__ == "__main__":
    sys.exit(main())
