fn main() {
    // include_dir! embeds templates/ at compile time; a template added there must rebuild dbgen.
    println!("cargo:rerun-if-changed=../templates");
}
