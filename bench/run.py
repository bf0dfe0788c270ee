#!/usr/bin/env python3
"""The benchmark of issue 5: dbgen against the raw-SQL limit, sqlx-cli and knex.

Usually started by bench/run.sh, which installs the peers and builds dbgen first.
Every measurement is one whole process (fork, exec, connect, work, exit), timed from spawn to
reap, with the client's peak memory (ru_maxrss from wait4, in the small spawn helper: spawn.c). Every timed run gets a fresh
database (created before, dropped after, both untimed), except `status`, which is read-only and
runs repeatedly against one database per tool. Runs of the different tools are interleaved
(run 1 of every tool, then run 2 of every tool, ..., each round starting with the next tool) so a
burst of load from elsewhere hits all of them alike. Standard library only.
"""

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen  # noqa: E402

TOOLS = ("limit", "dbgen", "sqlx", "knex")
TOOL_TITLE = {"limit": "raw SQL (the limit)", "dbgen": "dbgen", "sqlx": "sqlx-cli", "knex": "knex"}
ENGINE_TITLE = {"postgres": "Postgres", "sqlite": "SQLite", "mysql": "MariaDB"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


class PrivatePostgres:
    """A throwaway PostgreSQL cluster for the 10,000-migration run: a default server cannot
    apply 10,000 such migrations in one transaction (its lock table holds
    max_locks_per_transaction x max_connections = 6,400 locks; each CREATE TABLE keeps about six
    until commit), so this one is started with max_locks_per_transaction = 1024. It listens on
    127.0.0.1 only, trusts local users, lives in the scratch folder and is stopped at the end."""

    def __init__(self, work, port):
        self.dir = os.path.join(work, "pg-big")
        self.port = port
        self.started = False

    @staticmethod
    def bindir():
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
            if out and os.path.exists(os.path.join(out, "initdb")):
                return out
        except FileNotFoundError:
            pass
        import glob
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise Failed("initdb not found (pg_config --bindir, /usr/lib/postgresql/*/bin): cannot start the "
                         "private PostgreSQL of the memory case; use --big-engine sqlite instead")
        return os.path.dirname(found[-1])

    def run(self, argv):
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise Failed(f"{' '.join(argv)}: {(r.stderr or r.stdout).strip()[-800:]}")

    def start(self):
        b = self.bindir()
        os.makedirs(self.dir, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        data = os.path.join(self.dir, "data")
        self.run([os.path.join(b, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c max_locks_per_transaction=1024")
        self.run([os.path.join(b, "pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "log"), "-o", opts,
                  "-w", "start"])
        self.started = True

    def stop(self):
        if self.started:
            try:
                self.run([os.path.join(self.bindir(), "pg_ctl"), "-D", os.path.join(self.dir, "data"),
                          "-m", "immediate", "-w", "stop"])
            except Failed as e:
                log(f"warning: could not stop the private PostgreSQL: {e}")
            self.started = False


def rotate(tools, run):
    """Round `run` starts with a different tool, so no tool always runs first (or after the same one)."""
    k = run % len(tools) if tools else 0
    return tools[k:] + tools[:k]


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = os.path.abspath(a.work)
        self.logs = os.path.join(self.work, "logs")
        self.prefix = f"dbgen_bench_{os.getpid()}_"
        self.counter = 0
        self.created = {"postgres": set(), "mysql": set(), "sqlite": set()}
        self.samples = {}  # (case, tool) -> [sample]
        self.errors = {}  # (case, tool) -> message
        self.info = {}  # case -> generator info
        self.verify_notes = []

    # ---------------------------------------------------------------- servers

    def pg_url(self, db):
        a = self.a
        auth = a.pg_user + (f":{a.pg_password}" if a.pg_password else "")
        return f"postgres://{auth}@{a.pg_host}:{a.pg_port}/{db}"

    def my_url(self, db):
        a = self.a
        auth = a.mysql_user + (f":{a.mysql_password}" if a.mysql_password else "")
        return f"mysql://{auth}@{a.mysql_host}:{a.mysql_port}/{db}"

    def pg_env(self):
        env = dict(os.environ)
        if self.a.pg_password:
            env["PGPASSWORD"] = self.a.pg_password
        return env

    def psql(self, sql, db="postgres"):
        a = self.a
        r = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", a.pg_host, "-p", str(a.pg_port),
             "-U", a.pg_user, "-d", db, "-c", sql],
            capture_output=True, text=True, env=self.pg_env())
        if r.returncode != 0:
            raise Failed(f"psql {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def my_args(self):
        a = self.a
        args = ["mariadb", "-h", a.mysql_host, "-P", str(a.mysql_port), "-u", a.mysql_user]
        if a.mysql_password:
            args.append(f"-p{a.mysql_password}")
        return args

    def mysql(self, sql, db=None):
        r = subprocess.run(self.my_args() + ["-N", "-B", "-e", sql] + ([db] if db else []),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Failed(f"mariadb {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    # -------------------------------------------------------------- databases

    def new_db(self, engine, tag):
        """A fresh, empty database: its name (or, for SQLite, the path of a file not yet there)."""
        self.counter += 1
        name = f"{self.prefix}{self.counter}_{tag}"[:63]
        if engine == "postgres":
            self.created["postgres"].add(name)
            self.psql(f'CREATE DATABASE "{name}"')
        elif engine == "mysql":
            self.created["mysql"].add(name)
            self.mysql(f"CREATE DATABASE `{name}`")
        else:
            os.makedirs(os.path.join(self.work, "sqlite"), exist_ok=True)
            name = os.path.join(self.work, "sqlite", name + ".sqlite3")
            self.created["sqlite"].add(name)
        return name

    def drop_db(self, engine, name):
        if engine == "postgres":
            self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif engine == "mysql":
            self.mysql(f"DROP DATABASE IF EXISTS `{name}`")
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(name + suffix):
                    os.remove(name + suffix)
        self.created[engine].discard(name)

    def drop_all(self):
        for engine, names in self.created.items():
            for name in list(names):
                try:
                    self.drop_db(engine, name)
                except Exception as e:  # keep dropping the others
                    log(f"warning: could not drop {engine} database {name}: {e}")

    def user_tables(self, engine, db):
        """How many of the generated tables (t00000 ...) the database holds."""
        if engine == "postgres":
            out = self.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename ~ '^t[0-9]+$'", db)
        elif engine == "mysql":
            out = self.mysql("SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                             f"'{db}' AND table_name REGEXP '^t[0-9]+$'")
        else:
            if not os.path.exists(db):
                return 0
            r = subprocess.run(["sqlite3", db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                "AND name GLOB 't[0-9]*'"], capture_output=True, text=True)
            if r.returncode != 0:
                raise Failed(f"sqlite3 {db}: {r.stderr.strip()}")
            out = r.stdout.strip()
        return int(out)

    # ------------------------------------------------------------------ tools

    def available(self, tool):
        a = self.a
        if tool == "dbgen":
            return bool(a.dbgen) and os.access(a.dbgen, os.X_OK)
        if tool == "sqlx":
            return bool(a.sqlx) and os.access(a.sqlx, os.X_OK)
        if tool == "knex":
            return bool(a.knex) and os.path.exists(a.knex)
        return True

    def command(self, tool, action, engine, case_dir, db, jobs=None):
        """(argv, extra env, stdin file) for one tool doing one action on one database."""
        env = {}
        stdin = None
        if tool == "dbgen":
            proj = os.path.join(case_dir, "dbgen")
            verb = {"apply": ["latest"], "status": ["status"], "rollback": ["reset"]}[action]
            if jobs is not None:  # db: the list of databases of the --all case
                for k, name in enumerate(db):
                    env[f"BENCH{k:02d}_DB_URL"] = self.pg_url(name)
                argv = [self.a.dbgen, "--root", proj, "migrate", *verb, "--all", "--jobs", str(jobs)]
            else:
                if engine == "postgres":
                    env["BENCH_DB_URL"] = self.pg_url(db)
                elif engine == "mysql":
                    env["BENCH_DB_URL"] = self.my_url(db)
                else:
                    env["BENCH_DB_NAME"] = db
                argv = [self.a.dbgen, "--root", proj, "migrate", *verb, "bench"]
        elif tool == "sqlx":
            src = os.path.join(case_dir, "sqlx", "migrations")
            url = {"postgres": self.pg_url, "mysql": self.my_url}.get(engine, lambda p: f"sqlite://{p}?mode=rwc")(db)
            verb = {"apply": ["run"], "status": ["info"], "rollback": ["revert", "--target-version", "0"]}[action]
            argv = [self.a.sqlx, "migrate", *verb, "--source", src, "--database-url", url]
        elif tool == "knex":
            knexfile = os.path.join(case_dir, "knex", "knexfile.js")
            verb = {"apply": ["migrate:latest"], "status": ["migrate:status"],
                    "rollback": ["migrate:rollback", "--all"]}[action]
            env["BENCH_DB"] = db
            a = self.a
            env.update(BENCH_PG_HOST=a.pg_host, BENCH_PG_PORT=str(a.pg_port), BENCH_PG_USER=a.pg_user,
                       BENCH_MYSQL_HOST=a.mysql_host, BENCH_MYSQL_PORT=str(a.mysql_port),
                       BENCH_MYSQL_USER=a.mysql_user)
            if a.pg_password:
                env["BENCH_PG_PASSWORD"] = a.pg_password
            if a.mysql_password:
                env["BENCH_MYSQL_PASSWORD"] = a.mysql_password
            argv = ["node", self.a.knex, "--knexfile", knexfile, *verb]
        else:  # the limit: the same SQL through the engine's own CLI, in one transaction
            assert action in ("apply", "rollback")
            raw = os.path.join(case_dir, "raw")
            file = "up" if action == "apply" else "down"
            a = self.a
            if engine == "postgres":
                argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", os.path.join(raw, file + ".sql"),
                        "-h", a.pg_host, "-p", str(a.pg_port), "-U", a.pg_user, "-d", db]
            elif engine == "mysql":
                argv = self.my_args() + [db]
                stdin = os.path.join(raw, file + ".sql")
            else:
                argv = ["sqlite3", "-bail", db, ".read " + os.path.join(raw, file + "_tx.sql")]
        return argv, env, stdin

    def settle(self, engine):
        """Before a timed run: flush what earlier runs left dirty, so it is not paid for here."""
        os.sync()
        if engine == "postgres":
            self.psql("CHECKPOINT")
        elif engine == "mysql":
            self.mysql("FLUSH TABLES")

    def helper(self):
        """bench/.cache/spawn (from spawn.c): measures a child's time and its own peak RSS."""
        if getattr(self, "_helper", None):
            return self._helper
        exe = os.path.join(HERE, ".cache", "spawn")
        src = os.path.join(HERE, "spawn.c")
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            os.makedirs(os.path.dirname(exe), exist_ok=True)
            cc = os.environ.get("CC", "cc")
            r = subprocess.run([cc, "-O2", "-static", "-o", exe, src], capture_output=True, text=True)
            if r.returncode != 0:  # no static libc: a dynamic one costs about 1 MB of baseline RSS
                r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True, text=True)
            if r.returncode != 0:
                raise Failed(f"cannot compile {src} with {cc}: {r.stderr.strip()}")
        self._helper = exe
        return exe

    def spawn(self, argv, env, stdin, label):
        """Runs one whole process: (seconds, peak RSS in KiB). Raises Failed on a non-zero exit."""
        os.makedirs(self.logs, exist_ok=True)
        base = os.path.join(self.logs, re.sub(r"[^A-Za-z0-9_.-]+", "_", label))
        logfile, resfile = base + ".log", base + ".res"
        full_env = self.pg_env()
        full_env.update(env)
        helper = self.helper()
        with open(logfile, "w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
            try:
                p = subprocess.Popen([helper, resfile, *argv], stdin=fin, stdout=out, stderr=subprocess.STDOUT,
                                     env=full_env, start_new_session=True)
                try:
                    p.wait(timeout=self.a.timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                except BaseException:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    raise
            finally:
                if stdin:
                    fin.close()
        if p.returncode != 0:
            with open(logfile, errors="replace") as f:
                tail = f.read()[-1500:]
            raise Failed(f"exit {p.returncode} ({logfile}):\n{tail}")
        with open(resfile) as f:
            seconds, rss_kb = f.read().split()
        return float(seconds), int(rss_kb)

    # ------------------------------------------------------------------ cases

    def generate(self, case, engine, n, databases=1, layouts=gen.LAYOUTS):
        out = os.path.join(self.work, case)
        info = gen.generate(out, engine, n, layouts=layouts, databases=databases)
        self.info[case] = info
        knex_dir = os.path.join(out, "knex")
        if os.path.isdir(knex_dir) and self.a.knex:
            # knex's CLI wants a local knex (and the drivers) next to the knexfile.
            modules = self.a.knex
            while os.path.basename(modules) != "node_modules" and modules != "/":
                modules = os.path.dirname(modules)
            if os.path.isdir(modules):
                os.symlink(modules, os.path.join(knex_dir, "node_modules"))
        return out

    def record(self, case, tool, seconds, rss_kb):
        self.samples.setdefault((case, tool), []).append({"s": seconds, "rss_kb": rss_kb})
        log(f"  {case:<22} {tool:<6} {fmt_time(seconds):>9}  {rss_kb / 1024:7.1f} MB")

    def fail(self, case, tool, err):
        msg = str(err)
        self.errors[(case, tool)] = msg
        log(f"  {case:<22} {tool:<6} FAILED: {msg}")

    def ok(self, case, tool):
        return (case, tool) not in self.errors

    def tools_for(self, wanted):
        tools = []
        for t in wanted:
            if self.available(t):
                tools.append(t)
            else:
                log(f"  ({TOOL_TITLE[t]} is not installed: skipped)")
        return tools

    def check_tables(self, engine, db, expected, what):
        got = self.user_tables(engine, db)
        if got != expected:
            raise Failed(f"{what}: expected {expected} generated tables, found {got}")

    def case_apply(self, engine, n, case, tools, runs=None, server=contextlib.nullcontext):
        """`server()` wraps each run: the 10,000-migration case gets a fresh private server
        per run, since a server that has just created and dropped 10,000 tables is about
        twice as slow at doing it again (whichever tool comes second would pay for that)."""
        log(f"== {case}: apply {n} migrations, {ENGINE_TITLE[engine]}")
        d = self.generate(case, engine, n)
        creates = self.info[case]["shape"]["create"]
        for run in range(runs or self.a.runs):
            for tool in rotate(tools, run):
                if not self.ok(case, tool):
                    continue
                try:
                    with server():
                        self.apply_once(engine, case, tool, run, d, creates)
                except Failed as e:
                    self.fail(case, tool, e)

    def apply_once(self, engine, case, tool, run, d, creates):
        db = self.new_db(engine, tool)
        try:
            argv, env, stdin = self.command(tool, "apply", engine, d, db)
            self.settle(engine)
            s, rss = self.spawn(argv, env, stdin, f"{case}-{tool}-{run}")
            self.check_tables(engine, db, creates, f"{tool} apply")
            self.record(case, tool, s, rss)
        finally:
            self.drop_db(engine, db)

    def case_status(self, engine, n, case, tools):
        log(f"== {case}: status with {n} applied, nothing pending, {ENGINE_TITLE[engine]}")
        d = self.generate(case, engine, n)
        dbs = {}
        try:
            for tool in tools:
                db = self.new_db(engine, tool)
                dbs[tool] = db
                try:
                    argv, env, stdin = self.command(tool, "apply", engine, d, db)
                    self.spawn(argv, env, stdin, f"{case}-{tool}-setup")
                except Failed as e:
                    self.fail(case, tool, f"setup (apply) failed: {e}")
            for run in range(self.a.runs):
                for tool in rotate(tools, run):
                    if not self.ok(case, tool):
                        continue
                    try:
                        argv, env, stdin = self.command(tool, "status", engine, d, dbs[tool])
                        self.settle(engine)
                        s, rss = self.spawn(argv, env, stdin, f"{case}-{tool}-{run}")
                        self.record(case, tool, s, rss)
                    except Failed as e:
                        self.fail(case, tool, e)
        finally:
            for db in dbs.values():
                self.drop_db(engine, db)

    def case_rollback(self, engine, n, case, tools):
        log(f"== {case}: roll back all {n}, {ENGINE_TITLE[engine]}")
        d = self.generate(case, engine, n)
        creates = self.info[case]["shape"]["create"]
        for run in range(self.a.runs):
            for tool in rotate(tools, run):
                if not self.ok(case, tool):
                    continue
                db = self.new_db(engine, tool)
                try:
                    argv, env, stdin = self.command(tool, "apply", engine, d, db)
                    try:
                        self.spawn(argv, env, stdin, f"{case}-{tool}-{run}-setup")
                    except Failed as e:
                        raise Failed(f"setup (apply) failed: {e}")
                    self.check_tables(engine, db, creates, f"{tool} apply")
                    argv, env, stdin = self.command(tool, "rollback", engine, d, db)
                    self.settle(engine)
                    s, rss = self.spawn(argv, env, stdin, f"{case}-{tool}-{run}")
                    self.check_tables(engine, db, 0, f"{tool} rollback")
                    self.record(case, tool, s, rss)
                except Failed as e:
                    self.fail(case, tool, e)
                finally:
                    self.drop_db(engine, db)

    def case_all(self, k, n, jobs_list):
        case = f"all-{k}x{n}"
        log(f"== {case}: dbgen migrate latest --all over {k} databases x {n} migrations, Postgres")
        d = self.generate(case, "postgres", n, databases=k, layouts=("dbgen",))
        creates = self.info[case]["shape"]["create"]
        if not self.available("dbgen"):
            return
        for run in range(self.a.runs):
            for jobs in rotate(jobs_list, run):
                key = f"{case}-jobs{jobs}"
                if not self.ok(key, "dbgen"):
                    continue
                dbs = [self.new_db("postgres", f"all{i}") for i in range(k)]
                try:
                    argv, env, stdin = self.command("dbgen", "apply", "postgres", d, dbs, jobs=jobs)
                    self.settle("postgres")
                    s, rss = self.spawn(argv, env, stdin, f"{key}-{run}")
                    for db in dbs:
                        self.check_tables("postgres", db, creates, f"dbgen --all --jobs {jobs}")
                    self.record(key, "dbgen", s, rss)
                except Failed as e:
                    self.fail(key, "dbgen", e)
                finally:
                    for db in dbs:
                        self.drop_db("postgres", db)

    # ----------------------------------------------------------------- report

    def med(self, case, tool, field="s"):
        xs = self.samples.get((case, tool))
        if not xs or not self.ok(case, tool):
            return None
        return statistics.median(x[field] for x in xs)


def fmt_time(s):
    if s is None:
        return "—"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}×"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_mb(kb):
    return "—" if kb is None else f"{kb / 1024:.1f} MB"


def load():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_builders():
    """Names of compiler/bundler processes running now (not ours): a hint of concurrent load."""
    r = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True)
    names = [x.strip() for x in r.stdout.splitlines()]
    counts = {}
    for n in names:
        if n in ("rustc", "cargo", "cc1", "cc1plus", "ld", "node", "npm", "clang", "make"):
            counts[n] = counts.get(n, 0) + 1
    return counts


def version_of(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        # The results of an earlier run are not a change to what is measured.
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)bench/results"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except Exception:
        return "?"


def report(b, meta):
    a = b.a
    n, big = a.n, a.big_n
    lines = []
    w = lines.append
    w(f"# dbgen benchmark{' (quick mode: smoke test, not comparable)' if a.quick else ''}")
    w("")
    w(f"- when: {meta['started']} – {meta['ended']} ({meta['wall']:.0f} s)")
    w(f"- command: `{meta['command']}`")
    w(f"- dbgen: {meta['dbgen']} at commit {meta['rev']}; sqlx-cli: {meta['sqlx']}; knex: {meta['knex']}; "
      f"node {meta['node']}")
    w(f"- servers: {meta['pg']}; {meta['mysql']}; sqlite3 CLI {meta['sqlite3']}")
    w(f"- machine: {os.cpu_count()} cores; load average (1, 5, 15 min) at start {meta['load_start']}, "
      f"at end {meta['load_end']}, highest 1-min value sampled during the run {meta['load_max']:.2f}; "
      f"compilers/bundlers running at start: {meta['builders_start'] or 'none'}, at end: "
      f"{meta['builders_end'] or 'none'}")
    if meta["noisy"]:
        w(f"- **NOISY**: {meta['noisy']}. Other work shared the {os.cpu_count()} cores, so absolute times "
          "are inflated and ratios less reliable; rerun on a quiet machine before drawing conclusions.")
    w(f"- method: median of {a.runs} whole-process runs per cell (spawn to exit; {a.big_runs} run(s) for the "
      f"{a.big_n:,}-migration memory case), tools interleaved run by run, a fresh database per run (created "
      "and dropped untimed; `status` reuses one database per tool since it changes nothing), `sync` and a "
      f"Postgres `CHECKPOINT` before each timed run; {n:,} migrations = {shape(b, f'apply-postgres-{n}')}. "
      "Ratios are of medians measured in this run."
      + (f" The {a.big_n:,}-migration case runs on a private PostgreSQL this script starts with "
         "`max_locks_per_transaction = 1024` (a default server cannot hold the locks of that many CREATE "
         "TABLEs in one transaction), so the client's memory is the client's alone."
         if a.big_engine == "postgres" and not getattr(a, "big_pg_port", 0) else ""))
    w("")
    w("## Time (median)")
    w("")
    w("| work | raw SQL, one transaction (the limit) | dbgen | sqlx-cli | knex | dbgen ÷ limit | dbgen ÷ sqlx-cli |")
    w("|---|---|---|---|---|---|---|")

    def row(title, case, has_limit):
        lim = b.med(case, "limit") if has_limit else None
        cells = []
        for t in ("dbgen", "sqlx", "knex"):
            m = b.med(case, t)
            c = fmt_time(m)
            if has_limit and m is not None and lim:
                c += f" ({m / lim:.2f}×)"
            if (case, t) in b.errors:
                c = "error"
            cells.append(c)
        lim_cell = ("error" if (case, "limit") in b.errors else fmt_time(lim)) if has_limit else "—"
        w(f"| {title} | {lim_cell} | {' | '.join(cells)} | "
          f"{fmt_ratio(ratio(b.med(case, 'dbgen'), lim))} | "
          f"{fmt_ratio(ratio(b.med(case, 'dbgen'), b.med(case, 'sqlx')))} |")

    for e in meta["apply_engines"]:
        row(f"apply {n:,}, {ENGINE_TITLE[e]}", f"apply-{e}-{n}", True)
    row(f"status, {n:,} applied, nothing pending, Postgres", f"status-postgres-{n}", False)
    for e in ("postgres", "sqlite"):
        row(f"roll back all {n:,}, {ENGINE_TITLE[e]}", f"rollback-{e}-{n}", True)
    allc = f"all-{a.all_dbs}x{a.all_n}"
    j1, j4 = b.med(f"{allc}-jobs1", "dbgen"), b.med(f"{allc}-jobs4", "dbgen")
    w(f"| `migrate latest --all --jobs 1`, {a.all_dbs} databases × {a.all_n}, Postgres | — | {fmt_time(j1)} | — | — | — | — |")
    w(f"| `migrate latest --all --jobs 4`, {a.all_dbs} databases × {a.all_n}, Postgres | — | {fmt_time(j4)} "
      f"({fmt_ratio(ratio(j4, j1))} of `--jobs 1`) | — | — | — | — |")
    be = a.big_engine
    bigc = f"apply-{be}-{big}"
    lim_big = b.med(bigc, "limit")
    w(f"| apply {big:,}, {ENGINE_TITLE[be]} (limit and dbgen only) | {fmt_time(lim_big)} | "
      f"{fmt_time(b.med(bigc, 'dbgen'))} | — | — | {fmt_ratio(ratio(b.med(bigc, 'dbgen'), lim_big))} | — |")
    w("")
    w("Cells of peers show (in brackets) their ratio to the limit where there is one.")
    w("")
    w("## Peak memory of the client process (median of max RSS)")
    w("")
    w("| work | limit's client (psql / mariadb / sqlite3) | dbgen | sqlx-cli | knex | SQL size (up + down) |")
    w("|---|---|---|---|---|---|")
    for e in meta["apply_engines"]:
        c = f"apply-{e}-{n}"
        w(f"| apply {n:,}, {ENGINE_TITLE[e]} | {fmt_mb(b.med(c, 'limit', 'rss_kb'))} | "
          f"{fmt_mb(b.med(c, 'dbgen', 'rss_kb'))} | {fmt_mb(b.med(c, 'sqlx', 'rss_kb'))} | "
          f"{fmt_mb(b.med(c, 'knex', 'rss_kb'))} | {sql_size(b, c)} |")
    w(f"| apply {big:,}, {ENGINE_TITLE[be]} | {fmt_mb(b.med(bigc, 'limit', 'rss_kb'))} | "
      f"{fmt_mb(b.med(bigc, 'dbgen', 'rss_kb'))} | — | — | {sql_size(b, bigc)} |")
    w(f"| `--all --jobs 4`, {a.all_dbs} × {a.all_n} | — | {fmt_mb(b.med(f'{allc}-jobs4', 'dbgen', 'rss_kb'))} | — | — | "
      f"{sql_size(b, allc, a.all_dbs)} |")
    w("")
    w("## Targets (issue 5)")
    w("")
    w("| target | measured (ratio of medians) | per-round ratios: median (min – max) | result |")
    w("|---|---|---|---|")

    def target(title, value_text, passed, rounds="—"):
        res = "n/a" if passed is None else ("**pass**" if passed else "**FAIL**")
        w(f"| {title} | {value_text} | {rounds} | {res} |")

    def paired(case_a, tool_a, case_b, tool_b):
        """Ratios of the runs made in the same round (load drifts hit both alike)."""
        xs = b.samples.get((case_a, tool_a), [])
        ys = b.samples.get((case_b, tool_b), [])
        if not xs or len(xs) != len(ys) or not b.ok(case_a, tool_a) or not b.ok(case_b, tool_b):
            return "—"
        rs = [x["s"] / y["s"] for x, y in zip(xs, ys)]
        return f"{statistics.median(rs):.2f}× ({min(rs):.2f} – {max(rs):.2f})"

    def le(x, limit):
        return None if x is None else x <= limit

    c = f"apply-postgres-{n}"
    r = ratio(b.med(c, "dbgen"), b.med(c, "limit"))
    target(f"apply {n:,} on Postgres ≤ 1.05× the limit", fmt_ratio(r), le(r, 1.05), paired(c, "dbgen", c, "limit"))
    c = f"apply-sqlite-{n}"
    r = ratio(b.med(c, "dbgen"), b.med(c, "limit"))
    target(f"apply {n:,} on SQLite ≤ 1.2× the limit", fmt_ratio(r), le(r, 1.2), paired(c, "dbgen", c, "limit"))
    c = f"status-postgres-{n}"
    d = b.med(c, "dbgen")
    r = ratio(d, b.med(c, "sqlx"))
    target("no-op status ≤ 0.5× sqlx-cli", fmt_ratio(r), le(r, 0.5), paired(c, "dbgen", c, "sqlx"))
    target("no-op status < 15 ms", fmt_time(d), None if d is None else d < 0.015)
    for e in ("postgres", "sqlite"):
        c = f"rollback-{e}-{n}"
        r = ratio(b.med(c, "dbgen"), b.med(c, "sqlx"))
        target(f"roll back all on {ENGINE_TITLE[e]} ≤ 0.7× sqlx-cli", fmt_ratio(r), le(r, 0.7),
               paired(c, "dbgen", c, "sqlx"))
    r = ratio(j4, j1)
    target(f"`--all --jobs 4` ≤ 0.6× `--jobs 1` ({a.all_dbs} × {a.all_n})", fmt_ratio(r), le(r, 0.6),
           paired(f"{allc}-jobs4", "dbgen", f"{allc}-jobs1", "dbgen"))
    m_big = b.med(bigc, "dbgen", "rss_kb")
    target(f"peak memory applying {big:,} ({ENGINE_TITLE[be]}) < 20 MB", fmt_mb(m_big),
           None if m_big is None else m_big < 20 * 1024)
    m_n = b.med(f"apply-{be}-{n}", "dbgen", "rss_kb")
    sql_n = b.info.get(f"apply-{be}-{n}", {}).get("sql_bytes")
    sql_big = b.info.get(bigc, {}).get("sql_bytes")
    if None not in (m_big, m_n, sql_n, sql_big):
        grow = (m_big - m_n) * 1024
        sql_grow = sql_big - sql_n
        lim_n, lim_big_m = b.med(f"apply-{be}-{n}", "limit", "rss_kb"), b.med(bigc, "limit", "rss_kb")
        lim_note = "" if None in (lim_n, lim_big_m) else \
            f" (the limit's client: {(lim_big_m - lim_n) / 1024:+.1f} MB)"
        target(f"memory grows ({n:,} → {big:,}, {ENGINE_TITLE[be]}) no faster than the SQL",
               f"{grow / 2**20:+.1f} MB for +{sql_grow / 2**20:.1f} MB of SQL{lim_note}", grow <= sql_grow)
    else:
        target(f"memory grows ({n:,} → {big:,}, {ENGINE_TITLE[be]}) no faster than the SQL", "—", None)
    w("")
    if a.quick:
        w("Quick mode: small N and one run; the targets column is only a smoke test.")
        w("")
    if b.errors:
        w("## Errors")
        w("")
        for (case, tool), msg in sorted(b.errors.items()):
            w(f"- {case}, {TOOL_TITLE[tool]}:")
            w("")
            w("  ```")
            for line in excerpt(msg):
                w("  " + line)
            w("  ```")
        w("")
    w("## Spread (min – max of the runs, seconds)")
    w("")
    w("| case | " + " | ".join(TOOL_TITLE[t] for t in TOOLS) + " |")
    w("|---|" + "---|" * len(TOOLS))
    for case in sorted({c for c, _ in b.samples}):
        cells = []
        for t in TOOLS:
            xs = [x["s"] for x in b.samples.get((case, t), [])]
            cells.append(f"{min(xs):.3f} – {max(xs):.3f}" if xs else "—")
        w(f"| {case} | " + " | ".join(cells) + " |")
    w("")
    return "\n".join(lines)


def excerpt(msg, keep=20):
    """The first line of a failure, then the lines around each error (not 1,000 progress lines)."""
    lines = msg.strip().splitlines()
    if len(lines) <= keep:
        return lines
    hits = [i for i, l in enumerate(lines) if re.search(r"error|panic|fatal|failed", l, re.I)]
    picked = sorted({0, 1} | {j for i in hits[:4] for j in range(i - 1, min(i + 4, len(lines)))})
    if len(picked) <= 2:
        picked = [0, 1] + list(range(len(lines) - keep + 2, len(lines)))
    out, last = [], -1
    for i in picked[:keep + 8]:
        if i > last + 1:
            out.append("...")
        out.append(lines[i])
        last = i
    return out


def shape(b, case):
    info = b.info.get(case)
    if not info:
        return "?"
    s = info["shape"]
    return f"{s['create']} CREATE TABLE + index, {s['alter']} ALTER TABLE ADD COLUMN, {s['insert']} INSERT, each with a down script"


def sql_size(b, case, times=1):
    info = b.info.get(case)
    if not info:
        return "—"
    return f"{info['sql_bytes'] * times / 2**20:.2f} MB"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: 1 run, N=100, big N=1000, --all 4 x 20")
    p.add_argument("--runs", type=int, help="whole-process runs per cell (default 5; --quick 1)")
    p.add_argument("--n", type=int, help="migrations for apply/status/rollback (default 1000; --quick 100)")
    p.add_argument("--big-n", type=int, help="migrations for dbgen's peak-memory run (default 10000; --quick 1000)")
    p.add_argument("--big-runs", type=int, default=1,
                   help="runs of the peak-memory case (default 1: max RSS barely varies, and 10,000 "
                        "migrations take a minute or more)")
    p.add_argument("--all-dbs", type=int, help="databases for --all (default 20; --quick 4)")
    p.add_argument("--all-n", type=int, help="migrations per database for --all (default 100; --quick 20)")
    p.add_argument("--big-engine", default="postgres", choices=("sqlite", "postgres", "mysql"),
                   help="engine of the peak-memory run (default postgres, on a private server this script "
                        "starts with max_locks_per_transaction = 1024: a default one cannot hold the locks "
                        "of 7,100 CREATE TABLEs in one transaction; sqlite measures SQLite's own schema "
                        "memory too, since it runs inside the client)")
    p.add_argument("--big-pg-port", type=int, default=0,
                   help="for --big-engine postgres: use the server already on this port (with enough "
                        "max_locks_per_transaction) instead of starting a private one")
    p.add_argument("--private-pg-port", type=int, default=54329,
                   help="port of the private PostgreSQL of the memory case (default 54329)")
    p.add_argument("--mysql", action="store_true", help="also apply N on MariaDB (slow: DDL there commits each statement)")
    p.add_argument("--only", default="", help="comma-separated cases to run: apply,status,rollback,all,memory (default all)")
    p.add_argument("--dbgen", default=os.path.join(ROOT, "target", "release", "dbgen"))
    p.add_argument("--sqlx", default=os.path.join(HERE, ".cache", "sqlx-cli", "bin", "sqlx"))
    p.add_argument("--knex", default=os.path.join(HERE, ".cache", "knex", "node_modules", "knex", "bin", "cli.js"))
    p.add_argument("--work", default=os.path.join(HERE, ".cache", "work"), help="scratch folder (replaced)")
    p.add_argument("--out", default=None, help="markdown output (default bench/results/latest.md; quick: quick.md)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before one process is killed")
    p.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    p.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    p.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    p.add_argument("--pg-password", default=os.environ.get("BENCH_PG_PASSWORD", ""))
    p.add_argument("--mysql-host", default=os.environ.get("BENCH_MYSQL_HOST", "127.0.0.1"))
    p.add_argument("--mysql-port", type=int, default=int(os.environ.get("BENCH_MYSQL_PORT", "3306")))
    p.add_argument("--mysql-user", default=os.environ.get("BENCH_MYSQL_USER", "root"))
    p.add_argument("--mysql-password", default=os.environ.get("BENCH_MYSQL_PASSWORD", ""))
    p.add_argument("--report-only", metavar="JSON", help="print the tables of an earlier run from its .json "
                   "(written to --out only if --out is given); runs nothing")
    a = p.parse_args(argv)
    a.out_given = a.out is not None
    q = a.quick
    a.runs = a.runs or (1 if q else 5)
    a.n = a.n or (100 if q else 1000)
    a.big_n = a.big_n or (1000 if q else 10000)
    a.all_dbs = a.all_dbs or (4 if q else 20)
    a.all_n = a.all_n or (20 if q else 100)
    a.out = a.out or os.path.join(HERE, "results", "quick.md" if q else "latest.md")
    a.only = {x for x in a.only.split(",") if x} or {"apply", "status", "rollback", "all", "memory"}
    bad = a.only - {"apply", "status", "rollback", "all", "memory"}
    if bad:
        p.error(f"unknown case(s) in --only: {sorted(bad)}")
    return a


SHAPE_ARGS = ("quick", "runs", "n", "big_n", "big_engine", "big_pg_port", "big_runs", "all_dbs", "all_n", "mysql")


def rerender(a):
    """--report-only JSON: the tables again from a run's raw samples (after a change to the report)."""
    with open(a.report_only) as f:
        raw = json.load(f)
    for k, v in raw["meta"].get("args", {}).items():
        setattr(a, k, v)
    b = Bench(a)
    b.info = raw["info"]
    b.errors = {tuple(k.split("/", 1)): m for k, m in raw["errors"].items()}
    b.samples = {tuple(k.split("/", 1)): xs for k, xs in raw["samples"].items()}
    text = report(b, raw["meta"])
    if a.out_given:
        with open(a.out, "w") as f:
            f.write(text)
    print(text)
    return 0


def main(argv):
    a = parse_args(argv)
    if a.report_only:
        return rerender(a)

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    b = Bench(a)
    if os.path.exists(b.work):
        shutil.rmtree(b.work)
    os.makedirs(b.work)

    meta = {
        "command": os.environ.get("BENCH_COMMAND") or " ".join(["python3 bench/run.py", *argv]),
        "started": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_start": ", ".join(f"{x:.2f}" for x in load()),
        "builders_start": fmt_counts(busy_builders()),
        "dbgen": version_of([a.dbgen, "--version"]) if b.available("dbgen") else "not built",
        "sqlx": version_of([a.sqlx, "--version"]) if b.available("sqlx") else "not installed",
        "knex": version_of(["node", a.knex, "--version"]) if b.available("knex") else "not installed",
        "node": version_of(["node", "--version"]),
        "sqlite3": version_of(["sqlite3", "--version"]).split(" ")[0],
        "rev": git_rev(),
    }
    t_start = time.time()
    load_max = [load()[0]]
    stop = threading.Event()

    def sample_load():
        while not stop.wait(5):
            load_max[0] = max(load_max[0], load()[0])

    sampler = threading.Thread(target=sample_load, daemon=True)
    sampler.start()
    try:
        meta["pg"] = "PostgreSQL " + b.psql("SHOW server_version").split(" ")[0]
        try:
            meta["mysql"] = "MariaDB/MySQL " + b.mysql("SELECT version()")
        except Failed as e:
            meta["mysql"] = "MariaDB unreachable"
            if a.mysql:
                raise
        apply_engines = ["postgres", "sqlite"] + (["mysql"] if a.mysql or a.big_engine == "mysql" else [])
        meta["apply_engines"] = apply_engines
        peers = b.tools_for(["limit", "dbgen", "sqlx", "knex"])
        if "apply" in a.only or "memory" in a.only:
            for e in apply_engines:
                if "apply" in a.only or e == a.big_engine:
                    # --only memory still needs the N-migration run to compare with.
                    tools = peers if "apply" in a.only else [t for t in peers if t in ("limit", "dbgen")]
                    b.case_apply(e, a.n, f"apply-{e}-{a.n}", tools)
        if "status" in a.only:
            b.case_status("postgres", a.n, f"status-postgres-{a.n}", [t for t in peers if t != "limit"])
        if "rollback" in a.only:
            for e in ("postgres", "sqlite"):
                b.case_rollback(e, a.n, f"rollback-{e}-{a.n}", peers)
        if "all" in a.only:
            b.case_all(a.all_dbs, a.all_n, [1, 4])
        if "memory" in a.only and "dbgen" in peers:
            big_tools = [t for t in peers if t in ("limit", "dbgen")]
            if a.big_engine == "postgres" and a.big_pg_port == 0:
                @contextlib.contextmanager
                def private_server():
                    private = PrivatePostgres(b.work, port=a.private_pg_port)
                    shared = (a.pg_host, a.pg_port, a.pg_user, a.pg_password)
                    try:
                        private.start()
                        a.pg_host, a.pg_port, a.pg_user, a.pg_password = "127.0.0.1", private.port, "postgres", ""
                        yield
                    finally:
                        a.pg_host, a.pg_port, a.pg_user, a.pg_password = shared
                        b.created["postgres"].clear()  # they go with the server
                        private.stop()
                        shutil.rmtree(private.dir, ignore_errors=True)

                b.case_apply("postgres", a.big_n, f"apply-postgres-{a.big_n}", big_tools, runs=a.big_runs,
                             server=private_server)
            else:
                if a.big_pg_port:
                    a.pg_port = a.big_pg_port
                b.case_apply(a.big_engine, a.big_n, f"apply-{a.big_engine}-{a.big_n}", big_tools,
                             runs=a.big_runs)
    except KeyboardInterrupt:
        log("interrupted: dropping the benchmark's databases")
        b.drop_all()
        return 130
    finally:
        stop.set()
        b.drop_all()

    meta["ended"] = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    meta["wall"] = time.time() - t_start
    le = load()
    meta["load_end"] = ", ".join(f"{x:.2f}" for x in le)
    meta["load_max"] = load_max[0]
    meta["builders_end"] = fmt_counts(busy_builders())
    cores = os.cpu_count() or 1
    ls = [float(x) for x in meta["load_start"].split(", ")]
    reasons = []
    if ls[0] > 0.5 * cores:
        reasons.append(f"the 1-min load was {ls[0]:.2f} before the benchmark started")
    if load_max[0] > cores + 0.5:
        reasons.append(f"the 1-min load reached {load_max[0]:.2f} during the run (the benchmark alone "
                       "keeps it near 1)")
    if meta["builders_start"] or meta["builders_end"]:
        reasons.append("compilers or bundlers of other sessions were running")
    meta["noisy"] = "; ".join(reasons)

    text = report(b, meta)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    meta["args"] = {k: getattr(a, k) for k in SHAPE_ARGS}
    raw = {"meta": meta, "info": b.info, "errors": {f"{c}/{t}": m for (c, t), m in b.errors.items()},
           "samples": {f"{c}/{t}": xs for (c, t), xs in b.samples.items()}}
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(raw, f, indent=1)
    print(text)
    log(f"written: {a.out} and {os.path.splitext(a.out)[0]}.json")
    return 1 if b.errors else 0


def fmt_counts(c):
    return ", ".join(f"{k}×{v}" for k, v in sorted(c.items()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
