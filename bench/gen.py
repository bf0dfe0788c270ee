#!/usr/bin/env python3
"""Generates N migrations of a realistic shape, for one engine, in every layout the benchmark runs.

Shape (issue 5): about 71% CREATE TABLE with an index, 19% ALTER TABLE ADD COLUMN, 10% INSERT,
each with a down script that undoes it. Deterministic: the same arguments give the same files.

Layouts written under OUT (pick with --layouts):
  dbgen/  a dbgen project: dbgen.toml, database/<name>/{database.toml,migrations/V_name.up.sql,.down.sql}
          (--databases K writes K databases named <name>00 .. <name>K-1, each with its own copy)
  sqlx/   migrations/V_name.up.sql + .down.sql in one folder (sqlx-cli's reversible layout)
  knex/   knexfile.js + migrations/V_name.js (knex.raw of the same SQL, one call per statement)
  raw/    up.sql (every up script in order), down.sql (every down script, newest first),
          up_tx.sql, down_tx.sql (the same inside BEGIN/COMMIT, for the sqlite3 CLI)

Standard library only.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import sys

ENGINES = ("postgres", "mysql", "sqlite")
LAYOUTS = ("dbgen", "sqlx", "knex", "raw")
BASE_TIME = datetime.datetime(2024, 1, 1, 0, 0, 0)


def create_table_sql(engine, table):
    if engine == "postgres":
        pk = "id BIGSERIAL PRIMARY KEY"
    elif engine == "mysql":
        pk = "id BIGINT AUTO_INCREMENT PRIMARY KEY"
    else:
        pk = "id INTEGER PRIMARY KEY"
    return [
        f"CREATE TABLE {table} (\n"
        f"    {pk},\n"
        f"    name VARCHAR(100) NOT NULL,\n"
        f"    email VARCHAR(255),\n"
        f"    status VARCHAR(20) NOT NULL DEFAULT 'active',\n"
        f"    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP\n"
        f")",
        f"CREATE INDEX {table}_name_idx ON {table} (name)",
    ]


def column_type(engine, k):
    kinds = ["INTEGER", "VARCHAR(64)", "BOOLEAN", "TIMESTAMP"]
    t = kinds[k % len(kinds)]
    if t == "BOOLEAN" and engine == "postgres":
        return "BOOLEAN NOT NULL DEFAULT false"
    if t == "BOOLEAN":
        return "BOOLEAN NOT NULL DEFAULT 0"
    return t + " NULL"


def plan(n, seed):
    """The kind of each of n migrations: 'create', 'alter' or 'insert' (71/19/10)."""
    n_alter = round(n * 0.19)
    n_insert = round(n * 0.10)
    n_create = n - n_alter - n_insert
    kinds = ["create"] * n_create + ["alter"] * n_alter + ["insert"] * n_insert
    rng = random.Random(seed)
    rng.shuffle(kinds)
    # The first migration must create a table for the others to work on.
    if kinds and kinds[0] != "create":
        j = kinds.index("create")
        kinds[0], kinds[j] = kinds[j], kinds[0]
    return kinds


def migrations(engine, n, seed=5):
    """[(version, slug, [up statements], [down statements])] for n migrations."""
    rng = random.Random(seed + 1)
    tables = []
    out = []
    row_id = 1_000_000
    for i, kind in enumerate(plan(n, seed)):
        version = (BASE_TIME + datetime.timedelta(seconds=i)).strftime("%Y%m%d%H%M%S")
        if kind == "create":
            table = f"t{i:05d}"
            tables.append(table)
            up = create_table_sql(engine, table)
            down = [f"DROP TABLE {table}"]
            slug = f"create_{table}"
        elif kind == "alter":
            table = rng.choice(tables)
            col = f"c{i:05d}"
            up = [f"ALTER TABLE {table} ADD COLUMN {col} {column_type(engine, i)}"]
            down = [f"ALTER TABLE {table} DROP COLUMN {col}"]
            slug = f"add_{col}_to_{table}"
        else:
            table = rng.choice(tables)
            ids = list(range(row_id, row_id + 3))
            row_id += 3
            values = ",\n    ".join(
                f"({k}, 'name {k}', 'user{k}@example.com')" for k in ids
            )
            up = [f"INSERT INTO {table} (id, name, email) VALUES\n    {values}"]
            down = [
                f"DELETE FROM {table} WHERE id IN ({', '.join(str(k) for k in ids)})"
            ]
            slug = f"insert_{table}"
        out.append((version, slug, up, down))
    return out


def script(statements):
    return "".join(s + ";\n" for s in statements)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_migration_folder(folder, migs):
    os.makedirs(folder, exist_ok=True)
    for version, slug, up, down in migs:
        write(os.path.join(folder, f"{version}_{slug}.up.sql"), script(up))
        write(os.path.join(folder, f"{version}_{slug}.down.sql"), script(down))


def write_dbgen(out, engine, migs, name, databases):
    write(os.path.join(out, "dbgen.toml"), f'driver = "{engine}"\n')
    names = [name] if databases <= 1 else [f"{name}{k:02d}" for k in range(databases)]
    for db in names:
        base = os.path.join(out, "database", db)
        write(os.path.join(base, "database.toml"), f'driver = "{engine}"\n')
        write_migration_folder(os.path.join(base, "migrations"), migs)
    return names


KNEXFILE = """\
// Generated by bench/gen.py. The database (or SQLite file) comes from BENCH_DB.
const path = require('path');
const engine = %(engine)s;
const db = process.env.BENCH_DB;
const migrations = { directory: path.join(__dirname, 'migrations'), loadExtensions: ['.js'] };
const configs = {
  postgres: {
    client: 'pg',
    connection: { host: process.env.BENCH_PG_HOST || '127.0.0.1', port: +(process.env.BENCH_PG_PORT || 5432),
                  user: process.env.BENCH_PG_USER || 'postgres', password: process.env.BENCH_PG_PASSWORD, database: db },
    pool: { min: 0, max: 2 },
    migrations,
  },
  mysql: {
    client: 'mysql2',
    connection: { host: process.env.BENCH_MYSQL_HOST || '127.0.0.1', port: +(process.env.BENCH_MYSQL_PORT || 3306),
                  user: process.env.BENCH_MYSQL_USER || 'root', password: process.env.BENCH_MYSQL_PASSWORD, database: db },
    pool: { min: 0, max: 2 },
    migrations,
  },
  sqlite: {
    client: 'better-sqlite3',
    connection: { filename: db },
    useNullAsDefault: true,
    migrations,
  },
};
module.exports = configs[engine];
"""


def write_knex(out, engine, migs):
    write(os.path.join(out, "knexfile.js"), KNEXFILE % {"engine": json.dumps(engine)})
    folder = os.path.join(out, "migrations")
    os.makedirs(folder, exist_ok=True)
    for version, slug, up, down in migs:

        def body(stmts):
            return "".join(f"  await knex.raw({json.dumps(s)});\n" for s in stmts)

        write(
            os.path.join(folder, f"{version}_{slug}.js"),
            "exports.up = async function (knex) {\n"
            + body(up)
            + "};\n\nexports.down = async function (knex) {\n"
            + body(down)
            + "};\n",
        )


def write_raw(out, migs):
    up = "".join(script(m[2]) for m in migs)
    down = "".join(script(m[3]) for m in reversed(migs))
    write(os.path.join(out, "up.sql"), up)
    write(os.path.join(out, "down.sql"), down)
    write(os.path.join(out, "up_tx.sql"), "BEGIN;\n" + up + "COMMIT;\n")
    write(os.path.join(out, "down_tx.sql"), "BEGIN;\n" + down + "COMMIT;\n")


def sql_bytes(migs):
    """Total size of every up and down script."""
    return sum(len(script(m[2]).encode()) + len(script(m[3]).encode()) for m in migs)


def generate(out, engine, n, layouts=LAYOUTS, name="bench", databases=1, seed=5):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    if os.path.exists(out):
        shutil.rmtree(out)
    migs = migrations(engine, n, seed)
    info = {"engine": engine, "n": n, "sql_bytes": sql_bytes(migs)}
    if "dbgen" in layouts:
        info["databases"] = write_dbgen(os.path.join(out, "dbgen"), engine, migs, name, databases)
    if "sqlx" in layouts:
        write_migration_folder(os.path.join(out, "sqlx", "migrations"), migs)
    if "knex" in layouts:
        write_knex(os.path.join(out, "knex"), engine, migs)
    if "raw" in layouts:
        write_raw(os.path.join(out, "raw"), migs)
    kinds = plan(n, seed)
    info["shape"] = {k: kinds.count(k) for k in ("create", "alter", "insert")}
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", required=True, choices=ENGINES)
    p.add_argument("--n", type=int, default=1000, help="number of migrations (default 1000)")
    p.add_argument("--out", required=True, help="output folder (replaced)")
    p.add_argument("--layouts", default=",".join(LAYOUTS), help="comma-separated: " + ",".join(LAYOUTS))
    p.add_argument("--name", default="bench", help="dbgen database name (default bench)")
    p.add_argument("--databases", type=int, default=1, help="dbgen layout: this many databases")
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args()
    layouts = [x for x in a.layouts.split(",") if x]
    bad = [x for x in layouts if x not in LAYOUTS]
    if bad:
        p.error(f"unknown layout(s): {bad}")
    info = generate(a.out, a.engine, a.n, layouts, a.name, a.databases, a.seed)
    json.dump(info, sys.stdout)
    print()


if __name__ == "__main__":
    main()
