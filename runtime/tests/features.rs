//! An application that depends on dbgen-runtime with `default-features = false, features =
//! ["postgres"]` builds no SQLite C code, no MySQL driver and no command set; a database
//! whose engine's feature is off is a compile error naming the feature.
//!
//! Heavy: it builds a real project against this workspace's runtime, in
//! `target/postgres-only-app` of this workspace (reused by later runs), with this workspace's
//! Cargo.lock, so the build needs no network (`--offline`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace folder")
        .to_path_buf()
}

fn cargo(app: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .current_dir(app)
        .args(args)
        .arg("--offline")
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("postgres-only-app"),
        )
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo")
}

fn show(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

const MAIN: &str = r#"
#[derive(Debug, Clone, Copy, dbgen_runtime::Databases)]
#[databases(root = "database")]
enum Database {
    Shop,
}

use dbgen_runtime::Databases;

fn main() {
    // Compiled, not run: the pool and migrator calls an application makes.
    let _start = async {
        let pool = Database::Shop.connect().await?.into_postgres()?;
        Database::Shop.migrator().on(&pool).latest().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    println!("{} migration(s)", Database::Shop.migrations().len());
}
"#;

#[test]
fn a_postgres_only_app_builds_without_the_other_engines_or_the_command_set() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path();
    write(
        &app.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"pg-only\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndbgen-runtime = {{ path = {:?}, default-features = false, features = [\"postgres\"] }}\n",
            workspace().join("runtime").display().to_string()
        ),
    );
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    write(&app.join("src/main.rs"), MAIN);
    write(&app.join("dbgen.toml"), "driver = \"postgres\"\n");
    write(&app.join("database/shop/database.toml"), "");
    write(
        &app.join("database/shop/migrations/1_customers.up.sql"),
        "CREATE TABLE customers (id INT PRIMARY KEY);\n",
    );

    let tree = cargo(app, &["tree", "-e", "normal", "--prefix", "none"]);
    assert!(tree.status.success(), "{}", show(&tree));
    let tree = String::from_utf8_lossy(&tree.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"sqlx-postgres"), "{tree}");
    for absent in [
        "libsqlite3-sys",
        "sqlx-sqlite",
        "sqlx-mysql",
        "clap",
        "indicatif",
        "serde_json",
    ] {
        assert!(!crates.contains(&absent), "{absent} is built:\n{tree}");
    }

    let build = cargo(app, &["build", "--quiet"]);
    assert!(build.status.success(), "{}", show(&build));
    let bin = workspace()
        .join("target/postgres-only-app/debug")
        .join("pg-only");
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 migration(s)",
        "{}",
        show(&out)
    );

    // A SQLite database in a build without the `sqlite` feature does not compile.
    write(&app.join("dbgen.toml"), "driver = \"sqlite\"\n");
    let build = cargo(app, &["build", "--quiet"]);
    assert!(!build.status.success(), "{}", show(&build));
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(
        stderr.contains("`shop` uses sqlite") && stderr.contains("features = [\"sqlite\"]"),
        "{stderr}"
    );
}
