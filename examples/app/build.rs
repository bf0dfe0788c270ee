fn main() {
    // #[derive(Databases)] embeds each migration and seed with include_str!, so cargo
    // rebuilds when one of those files changes, but it cannot know about a file that did
    // not exist at the last build. Watching the folder makes a new migration rebuild the app.
    println!("cargo:rerun-if-changed=../../database");
    println!("cargo:rerun-if-changed=../../dbgen.toml");
}
