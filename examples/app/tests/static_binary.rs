//! The fully static release binary (scripts/build-static.sh), copied alone into an empty
//! folder, migrates every database. Opt-in, because the musl release build takes minutes:
//!
//! ```text
//! scripts/build-static.sh
//! DBGEN_TEST_STATIC_BINARY=1 cargo test -p dbgen-example --test static_binary
//! ```
//!
//! `DBGEN_TEST_STATIC_BINARY=1` tests `target/x86_64-unknown-linux-musl/release/dbgen-example`;
//! any other value is taken as the binary's path.

use std::path::{Path, PathBuf};
use std::process::Command;

use dbgen_testkit::{Engine, TestDb};

fn static_binary() -> Option<PathBuf> {
    let value = std::env::var("DBGEN_TEST_STATIC_BINARY").ok()?;
    if value == "1" {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target"));
        Some(target.join("x86_64-unknown-linux-musl/release/dbgen-example"))
    } else {
        Some(PathBuf::from(value))
    }
}

#[test]
fn the_static_binary_migrates_every_database_from_an_empty_folder() {
    let Some(source) = static_binary() else {
        eprintln!(
            "SKIPPED: set DBGEN_TEST_STATIC_BINARY=1 after scripts/build-static.sh to test the static binary"
        );
        return;
    };
    assert!(source.is_file(), "no binary at {}", source.display());
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("dbgen-example");
    std::fs::copy(&source, &bin).unwrap();

    let ldd = Command::new("ldd").arg(&bin).output().expect("ldd");
    let linkage = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        linkage.contains("not a dynamic executable") || linkage.contains("statically linked"),
        "{linkage}"
    );

    // Both Postgres databases when a server is reachable; SQLite always.
    let servers = TestDb::create(Engine::Postgres).zip(TestDb::create(Engine::Postgres));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let roles = [
        format!("dbgen_static_rls_{nanos}"),
        format!("dbgen_static_unrestricted_{nanos}"),
    ];
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir.path()).env_clear();
    let targets: Vec<&str> = match &servers {
        Some((permiso, permiso_test)) => {
            cmd.env("PERMISO_DB_URL", &permiso.url)
                .env("PERMISO_TEST_DB_URL", &permiso_test.url)
                .env("RLS_DB_USER", &roles[0])
                .env("RLS_DB_USER_PASSWORD", "static-rls")
                .env("UNRESTRICTED_DB_USER", &roles[1])
                .env("UNRESTRICTED_DB_USER_PASSWORD", "static-unrestricted");
            vec!["--all"]
        }
        None => vec!["permiso-sqlite"],
    };
    let out = cmd
        .args(["db", "migrate", "latest"])
        .args(&targets)
        .output()
        .expect("run the static binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("permiso-sqlite: batch 1 applied"),
        "{stdout}"
    );
    eprintln!("{stdout}");
    if let Some((permiso, permiso_test)) = servers {
        assert_eq!(permiso.tracking_rows("dbgen_migrations").len(), 2);
        assert_eq!(permiso_test.tracking_rows("dbgen_migrations").len(), 2);
        drop((permiso, permiso_test));
        if let Some(admin) = TestDb::create(Engine::Postgres) {
            for role in &roles {
                admin.execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
            }
        }
    }
}
