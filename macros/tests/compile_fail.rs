//! `#[derive(Databases)]` over fixture trees: one that compiles and runs, and one per layout
//! rule, each a compile error naming the file and the rule.

#[test]
fn derive_ui() {
    // trybuild builds every file in a crate of its own under target/; the fixtures' `root`
    // paths are relative to this crate, so the derive is told where this crate is.
    // SAFETY: the only test of this binary; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("DBGEN_MACROS_TEST_MANIFEST_DIR", env!("CARGO_MANIFEST_DIR")) };
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass.rs");
    t.compile_fail("tests/ui/variant_without_folder.rs");
    t.compile_fail("tests/ui/variant_without_folder_db2.rs");
    t.compile_fail("tests/ui/variant_name_collision.rs");
    t.compile_fail("tests/ui/folder_without_variant.rs");
    t.compile_fail("tests/ui/duplicate_version.rs");
    t.compile_fail("tests/ui/bad_file_name.rs");
    t.compile_fail("tests/ui/invalid_config.rs");
}
