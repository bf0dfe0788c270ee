fn main() {
    // include_dir! embeds templates/ at compile time; a template added there must rebuild dbgen.
    // `templates` is a symlink to the repository's top-level templates/ (so that the packaged
    // crate holds the files); cargo follows it.
    println!("cargo:rerun-if-changed=templates");
}
