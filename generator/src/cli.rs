//! The command line, as clap derive types. Dispatch lives in main.rs.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Parser, Subcommand, ValueEnum};
use dbgen_core::Driver;

#[derive(Debug, Parser)]
#[command(
    name = "dbgen",
    version,
    propagate_version = true,
    about = "Migrations and seeds for an application with several databases",
    long_about = "\
Migrations and seeds for an application with several databases.

Each database gets a folder database/<db>/ holding its database.toml, its migrations/ and
its seeds/. dbgen scaffolds those folders and files from templates; #[derive(Databases)]
(dbgen-runtime) embeds them in the application at compile time.

Connections come from environment variables (or a .env file at the project root):
<DB>_DB_URL, or <DB>_DB_HOST, _PORT, _NAME, _USER, _PASSWORD, where <DB> is the database's
name in upper case with `-` as `_` (permiso-test -> PERMISO_TEST_DB_URL).",
    after_help = "\
Examples:
  dbgen new permiso                         a PostgreSQL database in database/permiso/
  dbgen new cache --driver sqlite           a SQLite database
  dbgen migrate make permiso create_users   database/permiso/migrations/<version>_create_users.{up,down}.sql
  dbgen seed make permiso 01_roles          database/permiso/seeds/01_roles.sql
  dbgen list                                every database, its driver, files and variables"
)]
pub struct Cli {
    /// The project folder (the one holding dbgen.toml and database/)
    ///
    /// Default: the nearest folder upward from the current one that holds dbgen.toml,
    /// else the current folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a database: database/<DB>/ with its config, migrations/ and seeds/
    #[command(
        long_about = "\
Create a database: database/<DB>/database.toml, database/<DB>/migrations/ and
database/<DB>/seeds/, plus dbgen.toml when the project has none.

In a Cargo project (a Cargo.toml at the project root) it also keeps the registry module up
to date: it writes src/databases.rs (the #[derive(Databases)] enum; `registry_module` in
dbgen.toml moves it) and build.rs when they are missing, or adds the new database's variant
to the existing enum. A build.rs of your own is never changed: dbgen prints the line to add.

Nothing is written when anything is wrong: an existing database, an invalid name, a name
whose environment variables collide with another database's, an invalid dbgen.toml.",
        after_help = "\
Examples:
  dbgen new permiso
  dbgen new permiso-test            reads PERMISO_TEST_DB_URL, variant PermisoTest
  dbgen new cache --driver sqlite"
    )]
    New(NewArgs),

    /// Write and run migrations: make, latest, rollback, reset, status, up, down
    #[command(
        subcommand,
        long_about = "\
Write and run a database's migrations, the files in database/<DB>/migrations/.

`make` writes a new migration. The others connect to the databases named (or --all) and
apply or revert migrations, recording each in the database's tracking table. No command
has a default database. knex's script names work too: migrate:<DB>:latest, migrate:all,
migrate:all:rollback, migrate:all:status.",
        after_help = "\
Examples:
  dbgen migrate make permiso create_users
  dbgen migrate latest permiso
  dbgen migrate status --all --exit-code
  dbgen migrate rollback permiso"
    )]
    Migrate(MigrateCommand),

    /// Write and run seeds: make, run
    #[command(
        subcommand,
        long_about = "\
Write and run a database's seeds, the files in database/<DB>/seeds/.

`make` writes a new seed, database/<DB>/seeds/<NAME>.sql; `run` runs every seed of the
databases named (or --all) in name order. knex's seed:<DB>:run works too.",
        after_help = "Examples:\n  dbgen seed make permiso 01_roles\n  dbgen seed run permiso"
    )]
    Seed(SeedCommand),

    /// List the databases: driver, migrations, seeds and environment variables
    #[command(
        long_about = "\
List every database of the project: its driver, how many migrations and seeds it has (and
whose migrations it runs, when it reuses another database's), and the environment
variables its connection is read from.",
        after_help = "Examples:\n  dbgen list\n  dbgen --root ../service list"
    )]
    List,

    /// Print a shell completion script
    #[command(
        long_about = "\
Print a completion script for SHELL on standard output.",
        after_help = "\
Examples:
  dbgen completions bash > ~/.local/share/bash-completion/completions/dbgen
  dbgen completions zsh > \"${fpath[1]}/_dbgen\"
  dbgen completions fish > ~/.config/fish/completions/dbgen.fish"
    )]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The database's name: a-z first, then a-z, 0-9, `_` and `-` (at most 63 bytes)
    #[arg(value_name = "DB")]
    pub database: String,

    /// The database engine
    #[arg(long, value_enum, default_value = "postgres", value_name = "DRIVER")]
    pub driver: DriverArg,
}

/// `dbgen migrate ...`: `make` here, the runtime's commands (latest, rollback, ...) flattened in.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    #[command(flatten)]
    Run(dbgen_runtime::cli::MigrateCommand),

    /// Write a new migration: <version>_<NAME>.up.sql and .down.sql
    #[command(
        long_about = "\
Write a new migration of DB: database/<DB>/migrations/<version>_<NAME>.up.sql and
<version>_<NAME>.down.sql, where <version> is the UTC time as YYYYMMDDHHMMSS (one more than
the newest existing version if that is later, so versions stay unique and ordered).

Delete the down file to make the migration irreversible. Put `-- dbgen:no-transaction` on
the first line of a script to run it outside any transaction.",
        after_help = "Example:\n  dbgen migrate make permiso create_users"
    )]
    Make {
        /// The database (see `dbgen list`)
        #[arg(value_name = "DB")]
        database: String,
        /// The migration's name: a-z, 0-9 and `_`, e.g. create_users
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// `dbgen seed ...`: `make` here, the runtime's `run` flattened in.
#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    #[command(flatten)]
    Run(dbgen_runtime::cli::SeedCommand),

    /// Write a new seed: database/<DB>/seeds/<NAME>.sql
    #[command(
        long_about = "\
Write a new seed of DB: database/<DB>/seeds/<NAME>.sql. Seeds run in lexical order of
their names, so start a name with a number to place it: 01_roles, 02_users.",
        after_help = "Example:\n  dbgen seed make permiso 01_roles"
    )]
    Make {
        /// The database (see `dbgen list`)
        #[arg(value_name = "DB")]
        database: String,
        /// The seed's name: a-z, 0-9 and `_`, e.g. 01_roles
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// core's [`Driver`] as a clap value, with its aliases (`postgresql`, `mariadb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverArg(pub Driver);

impl ValueEnum for DriverArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            DriverArg(Driver::Postgres),
            DriverArg(Driver::Mysql),
            DriverArg(Driver::Sqlite),
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self.0 {
            Driver::Postgres => PossibleValue::new("postgres")
                .alias("postgresql")
                .help("PostgreSQL"),
            Driver::Mysql => PossibleValue::new("mysql")
                .alias("mariadb")
                .help("MySQL or MariaDB"),
            Driver::Sqlite => PossibleValue::new("sqlite").help("SQLite: a file, no server"),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_core_driver_is_a_value() {
        for driver in Driver::ALL {
            let value = DriverArg(driver).to_possible_value().unwrap();
            assert_eq!(Driver::parse(value.get_name()), Some(driver));
        }
    }
}
