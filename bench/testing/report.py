#!/usr/bin/env python3
"""Prints the markdown report of bench/testing/run.sh from its results.

    python3 bench/testing/report.py target/bench-testing/results.csv \
        [--detail detail.csv] [--meta meta.json] [--load load.csv] [--out report.md]

results.csv: `mode,db,ms` lines. Modes: dbgen, replay (per-test waits, default test threads),
dbgen-t8, replay-t8 (the same with --test-threads 8), bare-clone, bare-clone-file_copy,
bare-copy, bare-connect, bare-key, bare-connect-url, bare-connect-notls (50 samples each, one
at a time), build (dbgen's template build, from its stderr line), suite-dbgen, suite-replay,
suite-dbgen-t8, suite-replay-t8 (wall time of the `cargo test` command over one group of 50).
detail.csv adds the test, its rank in its process, the process and its start time.
Standard library only.
"""

import argparse
import collections
import csv
import json
import statistics
import sys

DATABASES = [
    ("pg1000", "PostgreSQL", 1000),
    ("pg50", "PostgreSQL", 50),
    ("lite1000", "SQLite", 1000),
    ("lite50", "SQLite", 50),
]
SPEEDUP_TARGET = 20.0
BARE_TARGET = 1.2
SQLITE_TARGET_MS = 10.0


def fmt(ms):
    if ms is None:
        return "—"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def ratio(x):
    if x is None:
        return "—"
    return f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def pct(values, q):
    """The q-th percentile (0-100), linear between ranks."""
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--detail")
    ap.add_argument("--meta")
    ap.add_argument("--load")
    ap.add_argument("--out")
    args = ap.parse_args()

    data = collections.defaultdict(list)
    blocked = set()
    rebuilt = set()
    with open(args.results) as f:
        for row in csv.reader(f):
            if len(row) >= 3 and row[0] == "blocked":
                blocked.add(row[1])
            elif len(row) >= 3 and row[0] == "rebuilt":
                rebuilt.add(row[1])
            elif len(row) >= 3:
                data[(row[0], row[1])].append(float(row[2]))

    def suite(mode, db, tag=""):
        """A suite's wall time, starred when cargo waited for another build's lock."""
        v = med(f"suite-{mode}{tag}", db)
        return fmt(v) + ("\\*" if f"{mode}-{db}{tag}" in blocked else "")

    def med(mode, db):
        v = data.get((mode, db))
        return statistics.median(v) if v else None

    def p90(mode, db):
        v = data.get((mode, db))
        return pct(v, 90) if v else None

    def bare(mode, db):
        """The bare samples before and after dbgen's group, pooled."""
        v = data.get((mode, db), []) + data.get((mode + "-after", db), [])
        return statistics.median(v) if v else None

    def div(a, b):
        return a / b if a is not None and b else None

    out = []
    w = out.append
    meta = json.load(open(args.meta)) if args.meta else {}
    w("# Test databases: dbgen against a replay per test\n")
    if meta:
        w(f"- command: `{meta['command']}` ({meta['seconds']} s, {meta['start']} – {meta['end']})")
        dirty = meta.get("dirty_runtime_files", 0)
        if meta.get("commit_start", meta["commit"]) != meta["commit"]:
            w(f"- **HEAD moved during the run**: {meta['commit_start']} at the start, {meta['commit']} at the end")
        w(
            f"- dbgen at {meta['commit']}"
            + (f" plus {dirty} uncommitted file(s) under runtime/, core/, macros/ (the working tree)" if dirty else "")
            + f"; PostgreSQL {meta['postgres']}; SQLite {meta['sqlite'] or '?'} (libsqlite3-sys, bundled)"
        )
        load = ""
        if args.load:
            rows = [r for r in csv.reader(open(args.load)) if len(r) == 3]
            if rows:
                top = max(float(r[1]) for r in rows)
                busy = sum(1 for r in rows if r[2] not in ("", "0"))
                load = f", highest 1-min load sampled {top:.2f}; rustc running in {busy} of {len(rows)} samples (5 s apart)"
        w(f"- machine: {meta['cores']} cores; load average at start {meta['load_start']}, at end {meta['load_end']}{load}")
    w(
        "- profile: debug (the default test profile, what `cargo test` builds); medians of 50 tests per cell, "
        "each timing its own wait: from just before it asks for a database to a connected pool on it "
        "holding every migration. `cargo test` runs each group of 50 alone, with its default test threads "
        "(= cores) unless said otherwise; `sync` and a PostgreSQL `CHECKPOINT` before each group."
    )
    w(
        "- dbgen: `dbgen_runtime::testing::fresh(Database::X)` (what `#[dbgen_runtime::test]` calls); the template "
        "exists (built by a warm-up run, timed below), as it does from the second `cargo test` on. "
        "Replay: what `#[sqlx::test]` does, per test: a new admin connection, `CREATE DATABASE`, a pool on it, "
        "`sqlx::migrate::Migrator::run` over the same folder (read once per process, like `migrate!()` embeds it); "
        "without TLS, like dbgen's test pools (a plain `DATABASE_URL` would add a TLS handshake per connection). "
        "SQLite replay: a new file, a pool with `create_if_missing`, the Migrator."
    )
    w(
        "- bare: on an open connection, one at a time, `CREATE DATABASE x TEMPLATE <dbgen's template>` "
        "(PostgreSQL 15's default strategy, WAL_LOG); for SQLite `std::fs::copy` of dbgen's template file.\n"
    )

    if rebuilt:
        w(f"- **the app was rebuilt during the run** (dbgen-runtime changed under it) before: {', '.join(sorted(rebuilt))}")
    w("")
    w("## Results\n")
    w(
        "| database | engine | migrations | dbgen median (p90) | replay median | speed-up | bare clone / copy median "
        "| dbgen ÷ bare | suite wall, default threads: dbgen / replay | suite wall, `--test-threads 8`: dbgen / replay |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|")
    for db, engine, n in DATABASES:
        if not data.get(("dbgen", db)):
            continue
        bare_mode = "bare-clone" if engine == "PostgreSQL" else "bare-copy"
        d, r, b = med("dbgen", db), med("replay", db), bare(bare_mode, db)
        s, s8 = (med("suite-dbgen", db), med("suite-replay", db)), (med("suite-dbgen-t8", db), med("suite-replay-t8", db))
        w(
            f"| {db} | {engine} | {n:,} | {fmt(d)} ({fmt(p90('dbgen', db))}) | {fmt(r)} | {ratio(div(r, d))} "
            f"| {fmt(b)} | {ratio(div(d, b))} | {suite('dbgen', db)} / {suite('replay', db)} ({ratio(div(s[1], s[0]))}) "
            f"| {suite('dbgen', db, '-t8')} / {suite('replay', db, '-t8')} ({ratio(div(s8[1], s8[0]))}) |"
        )
    w("")
    w(
        "Speed-up: replay median ÷ dbgen median. dbgen ÷ bare: dbgen's median wait ÷ the bare clone's (PostgreSQL) "
        "or file copy's (SQLite) median, of the 100 samples taken just before and just after dbgen's group. Suite wall: the `cargo test` command over the group of 50, from start to exit "
        "(cargo's freshness check and dbgen's clean-up at exit included), and in brackets replay ÷ dbgen."
        + (" \\* cargo waited for another build's lock on the shared target folder during that run." if blocked else "")
    )
    w("")

    w("## Targets\n")
    w("| target | database | measured | result |")
    w("|---|---|---|---|")
    for db, engine, _ in DATABASES:
        d, r = med("dbgen", db), med("replay", db)
        if d is None or r is None:
            continue
        sp = r / d
        if sp >= SPEEDUP_TARGET:
            how, verdict = f"{ratio(sp)} ({sp / SPEEDUP_TARGET:.1f}× the {SPEEDUP_TARGET:.0f}× asked)", "**met**"
        else:
            how, verdict = f"{ratio(sp)} (a factor {SPEEDUP_TARGET / sp:.1f} short of {SPEEDUP_TARGET:.0f}×)", "**missed**"
        w(f"| dbgen ≥ {SPEEDUP_TARGET:.0f}× faster than the replay | {db} | {how} | {verdict} |")
    for db, engine, _ in DATABASES:
        if engine != "PostgreSQL":
            continue
        d, b = med("dbgen", db), bare("bare-clone", db)
        if d is None or b is None:
            continue
        x = d / b
        if x <= BARE_TARGET:
            how = f"{x:.2f}× the bare clone ({fmt(d)} against {fmt(b)})"
            verdict = "**met**"
        else:
            how = f"{x:.2f}× the bare clone ({fmt(d)} against {fmt(b)}: {x / BARE_TARGET:.2f}× over the {BARE_TARGET}× allowed, {fmt(d - BARE_TARGET * b)} too slow)"
            verdict = "**missed**"
        w(f"| PostgreSQL: within {BARE_TARGET}× of the bare CREATE DATABASE ... TEMPLATE | {db} | {how} | {verdict} |")
    for db, engine, _ in DATABASES:
        if engine != "SQLite":
            continue
        d = med("dbgen", db)
        if d is None:
            continue
        if d <= SQLITE_TARGET_MS:
            how, verdict = f"{fmt(d)} ({d / SQLITE_TARGET_MS:.2f}× the limit)", "**met**"
        else:
            how, verdict = f"{fmt(d)} ({d / SQLITE_TARGET_MS:.2f}× the limit, {fmt(d - SQLITE_TARGET_MS)} over)", "**missed**"
        w(f"| SQLite: at most {SQLITE_TARGET_MS:.0f} ms | {db} | {how} | {verdict} |")
    w("")

    w("## Suite wall times (`cargo test` over 50 tests, start to exit)\n")
    w("| database | dbgen | replay | dbgen, 8 threads | replay, 8 threads |")
    w("|---|---|---|---|---|")
    for db, engine, _ in DATABASES:
        if med("suite-dbgen", db) is None:
            continue
        w(
            f"| {db} | {suite('dbgen', db)} | {suite('replay', db)} "
            f"| {suite('dbgen', db, '-t8')} | {suite('replay', db, '-t8')} |"
        )
    w("")

    w("## Per-test waits (ms): spread\n")
    w("| mode | database | n | min | p10 | median | p90 | max |")
    w("|---|---|---|---|---|---|---|---|")
    for mode in ("dbgen", "replay", "dbgen-t8", "replay-t8"):
        for db, _, _ in DATABASES:
            v = data.get((mode, db))
            if v:
                w(
                    f"| {mode} | {db} | {len(v)} | {min(v):.1f} | {pct(v, 10):.1f} | {statistics.median(v):.1f} "
                    f"| {pct(v, 90):.1f} | {max(v):.1f} |"
                )
    w("")

    w("## Bare times and dbgen's parts (median of 50, one at a time; build and warm: one sample)\n")
    w("| measurement | database | median | p90 | what |")
    w("|---|---|---|---|---|")
    bare_rows = [
        ("build", "dbgen builds the template (once per content; from its stderr line)"),
        ("warm", "the first test's whole wait when there is no template yet (build included)"),
        ("bare-clone", "`CREATE DATABASE x TEMPLATE tpl` (WAL_LOG, PostgreSQL 15's default), before dbgen's group"),
        ("bare-clone-after", "the same, right after dbgen's group"),
        ("bare-clone-file_copy", "the same with `STRATEGY FILE_COPY`"),
        ("bare-copy", "`std::fs::copy` of the SQLite template, before dbgen's group"),
        ("bare-copy-after", "the same, right after dbgen's group"),
        ("bare-connect", "a pool connected to a new clone / copy (the clone made untimed)"),
        ("bare-key", "`Environment::from_process()` + `TemplateKey::new` (done per test)"),
        ("bare-connect-url", "sqlx's connection to the maintenance database with the URL as given (TLS, since this server offers it): what each connection of a replay with a plain `DATABASE_URL` would cost"),
        ("bare-connect-notls", "the same without TLS"),
    ]
    for mode, what in bare_rows:
        for db in [d for d, _, _ in DATABASES] + ["server"]:
            v = data.get((mode, db))
            if v:
                w(f"| {mode} | {db} | {fmt(statistics.median(v))} | {fmt(pct(v, 90))} | {what} |")
    w("")

    if args.detail:
        rows = [r for r in csv.reader(open(args.detail)) if len(r) >= 7]
        w("## dbgen's waits by position in the test process\n")
        w(
            "The first tests of a process also wait for the keeper's admin connections and its check of the "
            "template; a wait shorter than the fastest bare clone can only be a clone the keeper had ready (a spare).\n"
        )
        w("| mode | database | tests 1–2 of the process: median | tests 3–50: median | waits under the fastest bare clone (spares) |")
        w("|---|---|---|---|---|")
        for mode in ("dbgen", "dbgen-t8"):
            for db, engine, _ in DATABASES:
                mine = [r for r in rows if r[0] == mode and r[1] == db and r[3] != "warm"]
                if not mine:
                    continue
                first = [float(r[2]) for r in mine if int(r[4]) < 2]
                rest = [float(r[2]) for r in mine if int(r[4]) >= 2]
                spares = "—"
                clones = data.get(("bare-clone", db), []) + data.get(("bare-clone-after", db), [])
                if engine == "PostgreSQL" and clones:
                    fastest = min(clones)
                    n = sum(1 for r in mine if float(r[2]) < fastest)
                    spares = f"{n} of {len(mine)} (< {fmt(fastest)})"
                w(
                    f"| {mode} | {db} | {fmt(statistics.median(first)) if first else '—'} "
                    f"| {fmt(statistics.median(rest)) if rest else '—'} | {spares} |"
                )
        w("")

    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
