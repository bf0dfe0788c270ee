//! `#[derive(Databases)]`: reads the project's databases with dbgen-core's loader (the same
//! code the `dbgen` binary runs) and emits them as `'static` data. Every script comes in
//! through `include_str!`, so editing one rebuilds the app; checksums are computed here, at
//! compile time. Layout problems become `compile_error!`s naming the file and the rule.

use std::path::{Path, PathBuf};

use dbgen_core::{Database, Migration, Project, Seed};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input};

#[proc_macro_derive(Databases, attributes(databases, database))]
pub fn derive_databases(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// `#[databases(root = "...")]`: the databases folder, relative to the crate's Cargo.toml.
fn databases_dir(input: &DeriveInput) -> syn::Result<String> {
    let mut root = "database".to_string();
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("databases"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("root") {
                root = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("expected `root = \"<folder>\"`"))
            }
        })?;
    }
    Ok(root)
}

/// Each variant and the database folder it names.
fn variants(input: &DeriveInput) -> syn::Result<Vec<(syn::Ident, String, Span)>> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Databases)] goes on an enum with one variant per database",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Databases)] takes an enum without generics",
        ));
    }
    data.variants
        .iter()
        .map(|v| {
            if !matches!(v.fields, Fields::Unit) {
                return Err(syn::Error::new_spanned(
                    v,
                    "a database variant has no fields: write `Permiso,`",
                ));
            }
            let mut name = None;
            for attr in v.attrs.iter().filter(|a| a.path().is_ident("database")) {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("name") {
                        name = Some(meta.value()?.parse::<LitStr>()?.value());
                        Ok(())
                    } else {
                        Err(meta.error("expected `name = \"<database folder>\"`"))
                    }
                })?;
            }
            let name = name.unwrap_or_else(|| kebab_case(&v.ident.to_string()));
            Ok((v.ident.clone(), name, v.ident.span()))
        })
        .collect()
}

/// `PermisoTest` -> `permiso-test`.
fn kebab_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Replaces `CARGO_MANIFEST_DIR` as the base of `root`. Only for this crate's UI tests:
/// trybuild compiles each test file in a crate of its own under `target/`, whose manifest
/// folder is not the one the fixture paths are relative to.
const MANIFEST_DIR_OVERRIDE: &str = "DBGEN_MACROS_TEST_MANIFEST_DIR";

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let manifest_dir = PathBuf::from(
        std::env::var_os(MANIFEST_DIR_OVERRIDE)
            .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
            .unwrap_or_default(),
    );
    let dir_attr = databases_dir(input)?;
    let databases_dir = lexical(&manifest_dir.join(&dir_attr));
    let root = databases_dir
        .parent()
        .unwrap_or(&manifest_dir)
        .to_path_buf();
    let ident = &input.ident;
    let fail = |message: String| syn::Error::new(ident.span(), message);

    if !databases_dir.is_dir() {
        return Err(fail(format!(
            "no databases folder at {}: create one with `dbgen new <name>`, or set #[databases(root = \"<folder>\")] (relative to Cargo.toml)",
            databases_dir.display()
        )));
    }
    let project =
        dbgen_core::load_project_with(&root, &databases_dir).map_err(|e| fail(e.to_string()))?;
    let variants = variants(input)?;

    // Match variants to folders, both ways.
    let mut chosen: Vec<(&syn::Ident, &Database)> = Vec::new();
    for (variant, name, span) in &variants {
        let db = project
            .databases
            .iter()
            .find(|d| d.name == name.as_str() || d.name == name.replace('-', "_"));
        match db {
            Some(db) => chosen.push((variant, db)),
            None => {
                return Err(syn::Error::new(
                    *span,
                    format!(
                        "variant `{variant}` has no database folder {dir_attr}/{name}/: create it with `dbgen new {name}`, or name its folder with #[database(name = \"...\")]; {}",
                        known(&project)
                    ),
                ));
            }
        }
    }
    if let Some(orphan) = project
        .databases
        .iter()
        .find(|d| !chosen.iter().any(|(_, c)| c.name == d.name))
    {
        return Err(fail(format!(
            "database folder {dir_attr}/{}/ has no variant: add `{}` to `enum {ident}` (or remove the folder)",
            orphan.name,
            orphan.variant_name()
        )));
    }

    let statics: Vec<Tokens> = chosen
        .iter()
        .map(|(_, db)| {
            let migrations_ident = migrations_static(db);
            let scripts_ident = format_ident!("SCRIPTS_{}", migrations_ident);
            let scripts = db.migrations.iter().map(|m| scripts(&root, m));
            let migrations = db
                .migrations
                .iter()
                .enumerate()
                .map(|(i, m)| migration(m, &scripts_ident, i));
            let owns_migrations = db.config.migrations_from.is_none();
            let seeds_ident = format_ident!("SEEDS_{}", db.env_prefix());
            let seeds = db.seeds.iter().map(|s| seed(&root, s));
            // Statics, not consts: the registry borrows them instead of copying their value
            // (const evaluation is most of the compile time of thousands of migrations).
            let migrations_static = owns_migrations.then(|| {
                let count = db.migrations.len();
                quote! {
                    static #scripts_ident: [::dbgen_runtime::core::EmbeddedScripts; #count] = [#(#scripts),*];
                    static #migrations_ident: [::dbgen_runtime::core::Migration; #count] = [#(#migrations),*];
                }
            });
            let seed_count = db.seeds.len();
            quote! {
                #migrations_static
                static #seeds_ident: [::dbgen_runtime::core::Seed; #seed_count] = [#(#seeds),*];
            }
        })
        .collect();
    let definitions = chosen.iter().map(|(_, db)| definition(db));
    let arms = chosen
        .iter()
        .enumerate()
        .map(|(i, (variant, _))| quote! { Self::#variant => &REGISTRY[#i] });
    let all = chosen.iter().map(|(variant, _)| quote! { Self::#variant });
    let count = chosen.len();
    // Config files are read here, not included: include them so editing one rebuilds the app.
    let config_files = config_files(&root, &databases_dir, &project)
        .into_iter()
        .map(|p| {
            let p = p.to_string_lossy().into_owned();
            quote! { const _: &str = include_str!(#p); }
        });

    Ok(quote! {
        const _: () = {
            #(#config_files)*
            #(#statics)*
            static REGISTRY: [::dbgen_runtime::core::Database; #count] = [#(#definitions),*];

            impl ::dbgen_runtime::Databases for #ident {
                const ALL: &'static [Self] = &[#(#all),*];

                fn registry() -> &'static [::dbgen_runtime::core::Database] {
                    &REGISTRY
                }

                fn definition(self) -> &'static ::dbgen_runtime::core::Database {
                    match self { #(#arms),* }
                }
            }
        };
    })
}

/// `a/b/../c` -> `a/c`, so that messages and `include_str!` paths carry no `..`.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            part => out.push(part),
        }
    }
    out
}

fn known(project: &Project) -> String {
    if project.databases.is_empty() {
        "the folder holds no databases yet".to_string()
    } else {
        format!("folders: {}", project.names().join(", "))
    }
}

fn config_files(root: &Path, databases_dir: &Path, project: &Project) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = project
        .databases
        .iter()
        .map(|d| {
            databases_dir
                .join(d.name.as_ref())
                .join(dbgen_core::DATABASE_CONFIG_FILE)
        })
        .collect();
    let top = root.join(dbgen_core::CONFIG_FILE);
    if top.is_file() {
        files.push(top);
    }
    files
}

fn migrations_static(db: &Database) -> syn::Ident {
    let owner = db.config.migrations_from.as_deref().unwrap_or(&db.name);
    format_ident!(
        "MIGRATIONS_{}",
        owner.to_ascii_uppercase().replace('-', "_")
    )
}

fn cow(text: &str) -> Tokens {
    quote! { ::std::borrow::Cow::Borrowed(#text) }
}

fn option_cow(text: Option<&str>) -> Tokens {
    match text {
        Some(text) => {
            let cow = cow(text);
            quote! { ::core::option::Option::Some(#cow) }
        }
        None => quote! { ::core::option::Option::None },
    }
}

fn included(root: &Path, relative: &str) -> Tokens {
    let path = root.join(relative).to_string_lossy().into_owned();
    quote! { include_str!(#path) }
}

/// A migration's scripts, in a static array of their own that the migration points into.
fn scripts(root: &Path, m: &Migration) -> Tokens {
    let up_path = m.up_path();
    let up = included(root, &up_path);
    let (down, down_path) = match m.down_path() {
        Some(path) => {
            let down = included(root, &path);
            (
                quote! { ::core::option::Option::Some(#down) },
                quote! { ::core::option::Option::Some(#path) },
            )
        }
        None => (
            quote! { ::core::option::Option::None },
            quote! { ::core::option::Option::None },
        ),
    };
    let up_path = up_path.as_ref();
    quote! {
        ::dbgen_runtime::core::EmbeddedScripts {
            up: #up,
            down: #down,
            up_path: #up_path,
            down_path: #down_path,
        }
    }
}

fn migration(m: &Migration, scripts: &syn::Ident, index: usize) -> Tokens {
    let version = m.version;
    let name = cow(&m.name);
    // One byte-string literal, not 32 integer literals: thousands of migrations make the
    // difference in type checking.
    let checksum = proc_macro2::Literal::byte_string(&m.checksum.0);
    quote! {
        ::dbgen_runtime::core::Migration {
            version: #version,
            name: #name,
            checksum: ::dbgen_runtime::core::Checksum(*#checksum),
            source: ::dbgen_runtime::core::ScriptSource::Embedded(&#scripts[#index]),
        }
    }
}

fn seed(root: &Path, s: &Seed) -> Tokens {
    let name = cow(&s.name);
    let sql = included(root, &s.path);
    let path = cow(&s.path);
    quote! { ::dbgen_runtime::core::Seed { name: #name, sql: ::std::borrow::Cow::Borrowed(#sql), path: #path } }
}

fn definition(db: &Database) -> Tokens {
    let name = cow(&db.name);
    let c = &db.config;
    let driver = format_ident!(
        "{}",
        match c.driver {
            dbgen_core::Driver::Postgres => "Postgres",
            dbgen_core::Driver::Mysql => "Mysql",
            dbgen_core::Driver::Sqlite => "Sqlite",
        }
    );
    let table = cow(&c.migrations_table);
    let lock_timeout = c.lock_timeout_secs;
    let (max, min, acquire) = (
        c.pool.max_connections,
        c.pool.min_connections,
        c.pool.acquire_timeout_secs,
    );
    let migrations_from = option_cow(c.migrations_from.as_deref());
    let placeholders = c.placeholders.iter().map(|p| {
        let (name, env, default) = (cow(&p.name), cow(&p.env), option_cow(p.default.as_deref()));
        quote! { ::dbgen_runtime::core::Placeholder { name: #name, env: #env, default: #default } }
    });
    let migrations = migrations_static(db);
    let seeds = format_ident!("SEEDS_{}", db.env_prefix());
    quote! {
        ::dbgen_runtime::core::Database {
            name: #name,
            config: ::dbgen_runtime::core::DatabaseConfig {
                driver: ::dbgen_runtime::core::Driver::#driver,
                migrations_table: #table,
                lock_timeout_secs: #lock_timeout,
                pool: ::dbgen_runtime::core::PoolConfig {
                    max_connections: #max,
                    min_connections: #min,
                    acquire_timeout_secs: #acquire,
                },
                migrations_from: #migrations_from,
                placeholders: ::std::borrow::Cow::Borrowed(&[#(#placeholders),*]),
            },
            migrations: ::std::borrow::Cow::Borrowed(&#migrations),
            seeds: ::std::borrow::Cow::Borrowed(&#seeds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{kebab_case, lexical};
    use std::path::Path;

    #[test]
    fn variant_to_folder() {
        assert_eq!(kebab_case("Permiso"), "permiso");
        assert_eq!(kebab_case("PermisoTest"), "permiso-test");
        assert_eq!(kebab_case("Db2"), "db2");
    }

    #[test]
    fn paths_lose_their_dots() {
        assert_eq!(
            lexical(Path::new("/w/examples/app/../../database")),
            Path::new("/w/database")
        );
        assert_eq!(
            lexical(Path::new("/w/./database")),
            Path::new("/w/database")
        );
        assert_eq!(lexical(Path::new("../database")), Path::new("../database"));
    }
}
