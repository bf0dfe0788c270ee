#!/usr/bin/env python3
"""Fleet benchmark (issue 16): dbgen over 1,000 schema tenants and 200 database tenants of
50 migrations each on the local PostgreSQL, against what people do today.

  - first migration of the whole fleet, `--jobs 8`, against one sqlx-cli process per tenant
    run 8 at a time;
  - `status` of the fleet with nothing pending (target: under 2 s at 1,000 tenants);
  - one new migration across the fleet, against the same SQL applied by one psql session
    looping over the schemas (target: within 1.5x);
  - dbgen's peak memory (target: under 30 MB at 1,000 tenants);
  - then 10,000 schema tenants: status time and memory.

Every process is timed from spawn to reap by bench/.cache/spawn (spawn.c), which also reads
its peak RSS. Databases are named dbgen_bench_fleet* and dropped at the end. Writes the table
to bench/results/fleet.md. Run through bench/fleet/run.sh, which installs and builds first.
"""

import argparse
import concurrent.futures
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
CACHE = os.path.join(BENCH, ".cache")
WORK = os.path.join(CACHE, "fleet")


def log(message):
    print(f"fleet: {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args):
        self.args = args
        self.dbgen = os.path.join(ROOT, "target", "release", "dbgen")
        self.sqlx = os.path.join(CACHE, "sqlx-cli", "bin", "sqlx")
        self.spawn_exe = os.path.join(CACHE, "spawn")
        self.server = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}"
        self.rows = []  # (what, tenants, tool, seconds, peak MB, note)
        self.created = set()

    # --- PostgreSQL through psql ---------------------------------------------------------

    def psql_argv(self, database):
        """psql on `database` of the benchmark's server, quiet, stopping at the first error."""
        return ["psql", "-h", self.args.pg_host, "-p", str(self.args.pg_port), "-U", self.args.pg_user,
                "-d", database, "-q", "-X", "-v", "ON_ERROR_STOP=1"]

    def psql(self, database, sql=None, file=None, stdin=None):
        argv = self.psql_argv(database)
        argv += ["-c", sql] if sql is not None else ["-f", file]
        subprocess.run(argv, check=True, stdin=stdin, stdout=subprocess.DEVNULL)

    def create_database(self, name):
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        self.created.add(name)

    def drop_database(self, name):
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.discard(name)

    def create_schemas(self, database, names):
        # Batches: one transaction per 500 schemas keeps within the lock table.
        for start in range(0, len(names), 500):
            body = "".join(f"CREATE SCHEMA {n};" for n in names[start:start + 500])
            self.psql(database, body)

    # --- timing --------------------------------------------------------------------------

    def spawn(self, argv, env=None, cwd=None):
        """(seconds, peak RSS in MB) of one process; raises if it fails."""
        result = os.path.join(WORK, "spawn.out")
        out = subprocess.run([self.spawn_exe, result] + argv, env=env, cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        seconds, rss_kib = open(result).read().split()
        return float(seconds), int(rss_kib) / 1024

    def dbgen_run(self, args, runs=1):
        """Median seconds and the highest peak RSS of `runs` runs of dbgen in the project."""
        env = dict(os.environ, NO_COLOR="1")
        samples = [self.spawn([self.dbgen] + args, env=env, cwd=self.project) for _ in range(runs)]
        return statistics.median(s for s, _ in samples), max(m for _, m in samples)

    def record(self, what, tenants, tool, seconds, peak=None, note=""):
        self.rows.append((what, tenants, tool, seconds, peak, note))
        mb = f", {peak:.1f} MB" if peak is not None else ""
        log(f"{what} / {tenants} / {tool}: {seconds:.2f} s{mb} {note}")

    # --- the project ---------------------------------------------------------------------

    def write_project(self):
        self.project = os.path.join(WORK, "project")
        shutil.rmtree(self.project, ignore_errors=True)
        migrations = os.path.join(self.project, "database", "shard", "migrations")
        os.makedirs(migrations)
        open(os.path.join(self.project, "dbgen.toml"), "w").close()
        with open(os.path.join(self.project, "database", "shard", "database.toml"), "w") as f:
            f.write('driver = "postgres"\n\n[tenants]\nschemas = { like = "tenant\\\\_%" }\n')
        for name, body in [
            ("dbs", 'driver = "postgres"\nmigrations = "shard"\n\n[tenants]\nfile = "dbs.txt"\n'),
            ("big", 'driver = "postgres"\nmigrations = "shard"\n\n[tenants]\nschemas = { like = "tenant\\\\_%" }\n'),
        ]:
            os.makedirs(os.path.join(self.project, "database", name))
            with open(os.path.join(self.project, "database", name, "database.toml"), "w") as f:
                f.write(body)
        for i in range(1, self.args.migrations + 1):
            base = os.path.join(migrations, f"{20250101000000 + i}_table_{i}")
            with open(base + ".up.sql", "w") as f:
                f.write(f"CREATE TABLE t{i} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                        f"created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n"
                        f"CREATE INDEX t{i}_name ON t{i} (name);\n")
            with open(base + ".down.sql", "w") as f:
                f.write(f"DROP TABLE t{i};\n")
        with open(os.path.join(self.project, ".env"), "w") as f:
            f.write(f"SHARD_DB_URL={self.server}/dbgen_bench_fleet\n"
                    f"DBS_DB_URL={self.server}/postgres\n"
                    f"BIG_DB_URL={self.server}/dbgen_bench_fleet_big\n")
        self.migrations_dir = migrations

    def add_migration(self):
        base = os.path.join(self.migrations_dir, "20260101000000_extra_column")
        with open(base + ".up.sql", "w") as f:
            f.write("ALTER TABLE t1 ADD COLUMN extra INT;\n")
        with open(base + ".down.sql", "w") as f:
            f.write("ALTER TABLE t1 DROP COLUMN extra;\n")

    # --- sqlx-cli, one process per tenant --------------------------------------------------

    def sqlx_fleet(self, urls):
        if not os.path.exists(self.sqlx):
            return None
        def one(url):
            out = subprocess.run([self.sqlx, "migrate", "run", "--source", self.migrations_dir,
                                  "--database-url", url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"sqlx on {url}: {out.stdout[-1000:]}")
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(self.args.jobs) as pool:
            list(pool.map(one, urls))
        return time.monotonic() - started

    # --- the run -------------------------------------------------------------------------

    def schema_fleet(self):
        n, jobs = self.args.schemas, str(self.args.jobs)
        names = [f"tenant_{i:05d}" for i in range(1, n + 1)]
        self.create_database("dbgen_bench_fleet")
        self.create_schemas("dbgen_bench_fleet", names)
        s, mb = self.dbgen_run(["migrate", "latest", "shard", "--tenants", "--jobs", jobs])
        self.record("first migration (50 each)", f"{n} schemas", f"dbgen --jobs {jobs}", s, mb)
        if not self.args.no_sqlx:
            self.create_database("dbgen_bench_fleet_sqlx")
            self.create_schemas("dbgen_bench_fleet_sqlx", names)
            urls = [f"{self.server}/dbgen_bench_fleet_sqlx?sslmode=disable&options=-c%20search_path%3D{t}" for t in names]
            s = self.sqlx_fleet(urls)
            if s is not None:
                self.record("first migration (50 each)", f"{n} schemas", f"sqlx-cli, {jobs} at a time", s,
                            note="sqlx locks per database, so its processes on one database take turns")
            self.drop_database("dbgen_bench_fleet_sqlx")
        s, _ = self.dbgen_run(["migrate", "latest", "shard", "--tenants", "--jobs", jobs], runs=3)
        self.record("latest, nothing pending", f"{n} schemas", f"dbgen --jobs {jobs}", s)
        s, mb = self.dbgen_run(["migrate", "status", "shard", "--tenants", "--jobs", jobs], runs=3)
        self.record("status, nothing pending", f"{n} schemas", f"dbgen --jobs {jobs}", s, mb, "target < 2 s, < 30 MB")
        return names

    def database_fleet(self):
        n, jobs = self.args.databases, str(self.args.jobs)
        names = [f"dbgen_bench_fleet_db_{i:04d}" for i in range(1, n + 1)]
        with open(os.path.join(self.project, "dbs.txt"), "w") as f:
            f.write("".join(f"{d}\n" for d in names))
        if not self.args.no_sqlx and os.path.exists(self.sqlx):
            for d in names:
                self.create_database(d)
            s = self.sqlx_fleet([f"{self.server}/{d}?sslmode=disable" for d in names])
            self.record("first migration (50 each)", f"{n} databases", f"sqlx-cli, {jobs} at a time", s)
            for d in names:
                self.drop_database(d)
        for d in names:
            self.create_database(d)
        s, mb = self.dbgen_run(["migrate", "latest", "dbs", "--tenants", "--jobs", jobs])
        self.record("first migration (50 each)", f"{n} databases", f"dbgen --jobs {jobs}", s, mb)
        s, mb = self.dbgen_run(["migrate", "status", "dbs", "--tenants", "--jobs", jobs], runs=3)
        self.record("status, nothing pending", f"{n} databases", f"dbgen --jobs {jobs}", s, mb)
        return names

    def new_migration(self, schemas, databases):
        jobs = str(self.args.jobs)
        # The limit: the same DDL from one psql session, schema after schema (autocommit).
        script = os.path.join(WORK, "loop.sql")
        with open(script, "w") as f:
            for s in schemas:
                f.write(f"SET search_path TO {s};\nALTER TABLE t1 ADD COLUMN psql_extra INT;\n")
        s, _ = self.spawn(self.psql_argv("dbgen_bench_fleet") + ["-f", script])
        self.record("one new migration", f"{len(schemas)} schemas", "psql loop, one session", s)
        with open(script, "w") as f:
            for d in databases:
                f.write(f"\\c {d}\nALTER TABLE t1 ADD COLUMN psql_extra INT;\n")
        s, _ = self.spawn(self.psql_argv("postgres") + ["-f", script])
        self.record("one new migration", f"{len(databases)} databases", "psql loop, one process", s)
        self.add_migration()
        s, mb = self.dbgen_run(["migrate", "latest", "shard", "--tenants", "--jobs", jobs])
        self.record("one new migration", f"{len(schemas)} schemas", f"dbgen --jobs {jobs}", s, mb, "target <= 1.5x psql")
        s, mb = self.dbgen_run(["migrate", "latest", "dbs", "--tenants", "--jobs", jobs])
        self.record("one new migration", f"{len(databases)} databases", f"dbgen --jobs {jobs}", s, mb)

    def big_fleet(self):
        """Status over many schemas that hold only the tracking table (status reads nothing else)."""
        n, jobs = self.args.big, str(self.args.jobs)
        self.create_database("dbgen_bench_fleet_big")
        ddl = ("CREATE TABLE public.tpl (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
               "batch BIGINT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL, execution_ms BIGINT NOT NULL)")
        self.psql("dbgen_bench_fleet_big", ddl)
        dump = subprocess.run(self.psql_argv("dbgen_bench_fleet") + ["-c", "COPY tenant_00001.dbgen_migrations TO STDOUT"],
                              check=True, stdout=subprocess.PIPE)
        subprocess.run(self.psql_argv("dbgen_bench_fleet_big") + ["-c", "COPY public.tpl FROM STDIN"],
                       check=True, input=dump.stdout, stdout=subprocess.DEVNULL)
        names = [f"tenant_{i:05d}" for i in range(1, n + 1)]
        for start in range(0, n, 500):
            body = "".join(f"CREATE SCHEMA {t}; CREATE TABLE {t}.dbgen_migrations (LIKE public.tpl INCLUDING ALL); "
                           f"INSERT INTO {t}.dbgen_migrations SELECT * FROM public.tpl;" for t in names[start:start + 500])
            self.psql("dbgen_bench_fleet_big", body)
        s, mb = self.dbgen_run(["migrate", "status", "big", "--tenants", "--jobs", jobs], runs=3)
        self.record("status, nothing pending", f"{n} schemas", f"dbgen --jobs {jobs}", s, mb, "tracking tables only")

    def table(self):
        lines = [
            f"Fleet benchmark: PostgreSQL {self.server_version()} on 127.0.0.1, {os.cpu_count()} cores, "
            f"{self.args.migrations} migrations per tenant (a table and an index each); dbgen release build at "
            f"{self.commit()}; {time.strftime('%Y-%m-%d', time.gmtime())}.",
            "Made with `bench/fleet/run.sh` (status and no-op latest: median of 3 runs; the rest: 1 run).",
            "",
            "| what | tenants | tool | time | dbgen peak memory | note |",
            "|---|---|---|---:|---:|---|",
        ]
        for what, tenants, tool, seconds, peak, note in self.rows:
            mb = f"{peak:.1f} MB" if peak is not None else ""
            lines.append(f"| {what} | {tenants} | {tool} | {seconds:.2f} s | {mb} | {note} |")
        return "\n".join(lines) + "\n"

    def server_version(self):
        out = subprocess.run(self.psql_argv("postgres") + ["-At", "-c", "SHOW server_version"],
                             stdout=subprocess.PIPE, text=True)
        return out.stdout.strip().split()[0] if out.stdout else "?"

    def commit(self):
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True)
        return out.stdout.strip()

    def run(self):
        os.makedirs(WORK, exist_ok=True)
        self.write_project()
        try:
            schemas = self.schema_fleet()
            databases = self.database_fleet()
            self.new_migration(schemas, databases)
            if self.args.big:
                self.big_fleet()
        finally:
            for name in sorted(self.created):
                self.drop_database(name)
        text = self.table()
        print(text)
        out = os.path.join(BENCH, "results", "fleet.md" if not self.args.quick else "fleet-quick.md")
        with open(out, "w") as f:
            f.write(text)
        log(f"wrote {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--schemas", type=int, default=1000)
    p.add_argument("--databases", type=int, default=200)
    p.add_argument("--migrations", type=int, default=50)
    p.add_argument("--big", type=int, default=10000, help="schema tenants of the status-only run (0: skip)")
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--no-sqlx", action="store_true", help="leave out sqlx-cli")
    p.add_argument("--quick", action="store_true", help="50 schemas, 10 databases, 200 big; writes fleet-quick.md")
    p.add_argument("--pg-host", default=os.environ.get("BENCH_PG_HOST", "127.0.0.1"))
    p.add_argument("--pg-port", type=int, default=int(os.environ.get("BENCH_PG_PORT", "5432")))
    p.add_argument("--pg-user", default=os.environ.get("BENCH_PG_USER", "postgres"))
    args = p.parse_args()
    if args.quick:
        args.schemas, args.databases, args.big = 50, 10, 200
    Bench(args).run()


if __name__ == "__main__":
    main()
