//! `derive_project`: what `#[derive(Databases)]` asks core, against real trees on disk.

use std::fs;
use std::path::Path;

use dbgen_core::{DeriveError, DerivedProject, EnumVariant, Error, derive_project};

fn sqlite_db(root: &Path, name: &str) {
    let dir = root.join("database").join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("database.toml"), "driver = \"sqlite\"\n").unwrap();
}

fn variant(ident: &str) -> EnumVariant {
    EnumVariant {
        ident: ident.to_string(),
        folder: None,
    }
}

fn derive(root: &Path, variants: &[EnumVariant]) -> Result<DerivedProject, DeriveError> {
    derive_project(root, "database", "Database", variants)
}

fn failure(root: &Path, variants: &[EnumVariant]) -> (Option<usize>, String) {
    match derive(root, variants) {
        Ok(d) => panic!("expected an error, got {:?}", d.variants),
        Err(e) => (e.variant, e.error.to_string()),
    }
}

#[test]
fn every_name_dbgen_new_accepts_matches_its_variant() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["shop", "db-2", "a_b", "permiso-test_v2", "x1-y2"];
    for name in names {
        sqlite_db(dir.path(), name);
    }
    let idents = ["Shop", "Db2", "AB", "PermisoTestV2", "X1Y2"];
    let variants: Vec<_> = idents.iter().map(|i| variant(i)).collect();
    let derived = derive(dir.path(), &variants).unwrap();
    let matched: Vec<&str> = derived
        .variants
        .iter()
        .map(|&i| derived.project.databases[i].name.as_ref())
        .collect();
    assert_eq!(matched, names);
    assert_eq!(derived.root, dir.path());
    assert_eq!(derived.config_files.len(), 5);
}

#[test]
fn a_name_attribute_wins_and_paths_lose_their_dots() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_db(dir.path(), "audit_log");
    fs::write(dir.path().join("dbgen.toml"), "").unwrap();
    let app = dir.path().join("app");
    fs::create_dir(&app).unwrap();
    let derived = derive_project(
        &app,
        "../database",
        "Database",
        &[EnumVariant {
            ident: "Audit".into(),
            folder: Some("audit_log".into()),
        }],
    )
    .unwrap();
    assert_eq!(derived.databases_dir, dir.path().join("database"));
    assert_eq!(derived.variants, [0]);
    assert!(
        derived
            .config_files
            .contains(&dir.path().join("dbgen.toml"))
    );
}

#[test]
fn a_variant_without_folder_names_the_folders_it_would_accept() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_db(dir.path(), "shop");
    let (at, err) = failure(dir.path(), &[variant("Shop"), variant("Db2")]);
    assert_eq!(at, Some(1));
    for part in [
        "variant `Db2` has no database folder in database/",
        "a folder whose name maps to `Db2`, such as `db2` or `db-2`",
        "`dbgen new db2`",
        "#[database(name = \"...\")]",
        "known databases: shop",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    // An identifier no folder name maps to says so.
    let (_, err) = failure(dir.path(), &[variant("Shop"), variant("shop")]);
    assert!(err.contains("no database name maps to `shop`"), "{err}");
    // A #[database(name)] folder that is not there.
    let named = EnumVariant {
        ident: "Audit".into(),
        folder: Some("audit_log".into()),
    };
    let (_, err) = failure(dir.path(), &[variant("Shop"), named]);
    assert!(
        err.contains("#[database(name = \"audit_log\")]") && err.contains("`dbgen new audit_log`"),
        "{err}"
    );
}

#[test]
fn a_folder_without_variant_and_two_variants_for_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_db(dir.path(), "shop");
    sqlite_db(dir.path(), "db-2");
    let (at, err) = failure(dir.path(), &[variant("Shop")]);
    assert_eq!(at, None);
    assert!(
        err.contains("database folder database/db-2/ has no variant: add `Db2` to `enum Database`"),
        "{err}"
    );
    let twice = EnumVariant {
        ident: "Other".into(),
        folder: Some("shop".into()),
    };
    let (at, err) = failure(dir.path(), &[variant("Shop"), variant("Db2"), twice]);
    assert_eq!(at, Some(2));
    assert!(
        err.contains("variants `Shop` and `Other` both name database folder database/shop/"),
        "{err}"
    );
}

#[test]
fn a_missing_folder_or_a_broken_tree_is_the_enums_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = derive(dir.path(), &[]).unwrap_err();
    assert!(
        matches!(err.error, Error::NoDatabasesFolder { .. }),
        "{err:?}"
    );
    sqlite_db(dir.path(), "db-2");
    sqlite_db(dir.path(), "db2");
    let err = derive(dir.path(), &[variant("Db2")]).unwrap_err();
    assert_eq!(err.variant, None);
    assert!(
        matches!(err.error, Error::VariantCollision { .. }),
        "{err:?}"
    );
}
