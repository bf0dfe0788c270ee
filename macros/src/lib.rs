//! `#[derive(Databases)]`: reads the project's databases with dbgen-core's loader (the same
//! code the `dbgen` binary runs) and emits them as `'static` data. Every script comes in
//! through `include_str!`, so editing one rebuilds the app; checksums are computed here, at
//! compile time. Layout problems become `compile_error!`s naming the file and the rule.

use std::path::{Path, PathBuf};

use dbgen_core::{Database, EnumVariant, Migration, Seed};
use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, parse_macro_input};

mod test;

/// `#[dbgen_runtime::test(Database::Shop)]` on an `async fn` taking a pool: a `#[test]` on a
/// fresh, fully migrated database (dbgen-runtime's `testing` feature). Options after the
/// database: `seeds` (every seed), `seed = "01_roles"` (repeatable), `to = VERSION`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test::expand(args.into(), item.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

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

/// Each variant as written: its identifier and its `#[database(name = "...")]`, if any.
fn variants(input: &DeriveInput) -> syn::Result<Vec<(syn::Ident, EnumVariant)>> {
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
            let mut folder = None;
            for attr in v.attrs.iter().filter(|a| a.path().is_ident("database")) {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("name") {
                        folder = Some(meta.value()?.parse::<LitStr>()?.value());
                        Ok(())
                    } else {
                        Err(meta.error("expected `name = \"<database folder>\"`"))
                    }
                })?;
            }
            let ident = v.ident.to_string();
            Ok((v.ident.clone(), EnumVariant { ident, folder }))
        })
        .collect()
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
    let ident = &input.ident;
    let (idents, written): (Vec<syn::Ident>, Vec<EnumVariant>) =
        variants(input)?.into_iter().unzip();
    let derived =
        dbgen_core::derive_project(&manifest_dir, &dir_attr, &ident.to_string(), &written)
            .map_err(|e| {
                let span = e
                    .variant
                    .and_then(|i| idents.get(i))
                    .map_or(ident.span(), syn::Ident::span);
                syn::Error::new(span, e.error.to_string())
            })?;
    let root = &derived.root;
    let databases = &derived.project.databases;
    // Each database's statics are named by its index in the project: no naming rule here.
    let chosen: Vec<(&syn::Ident, usize, &Database)> = idents
        .iter()
        .zip(&derived.variants)
        .map(|(variant, &i)| (variant, i, &databases[i]))
        .collect();

    let statics: Vec<Tokens> = chosen
        .iter()
        .map(|&(_, index, db)| {
            let migrations_ident = migrations_static(databases, index);
            let scripts_ident = format_ident!("SCRIPTS_{}", migrations_ident);
            let scripts = db.migrations.iter().map(|m| scripts(root, m));
            let migrations = db
                .migrations
                .iter()
                .enumerate()
                .map(|(i, m)| migration(m, &scripts_ident, i));
            let owns_migrations = db.config.migrations_from.is_none();
            let seeds_ident = format_ident!("SEEDS_{index}");
            let seeds = db.seeds.iter().map(|s| seed(root, s));
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
    let definitions = chosen
        .iter()
        .map(|&(_, index, db)| definition(databases, index, db));
    let engine_checks = chosen.iter().map(|(_, _, db)| engine_check(db));
    let arms = chosen
        .iter()
        .enumerate()
        .map(|(i, (variant, _, _))| quote! { Self::#variant => &REGISTRY[#i] });
    let all = chosen
        .iter()
        .map(|(variant, _, _)| quote! { Self::#variant });
    let count = chosen.len();
    // Config files are read here, not included: include them so editing one rebuilds the app.
    let config_files = derived.config_files.iter().map(|p| {
        let p = p.to_string_lossy().into_owned();
        quote! { const _: &str = include_str!(#p); }
    });

    Ok(quote! {
        const _: () = {
            #(#config_files)*
            #(#engine_checks)*
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

/// The static holding the migrations database `index` runs: its own, or those of the
/// database it takes them from (`migrations = "..."`).
fn migrations_static(databases: &[Database], index: usize) -> syn::Ident {
    let owner = databases[index]
        .config
        .migrations_from
        .as_deref()
        .and_then(|from| databases.iter().position(|d| d.name == from))
        .unwrap_or(index);
    format_ident!("MIGRATIONS_{owner}")
}

/// A compile error, naming the feature, when dbgen-runtime is built without the engine the
/// database uses. (The message is a format string: its braces are doubled.)
fn engine_check(db: &Database) -> Tokens {
    let driver = db.config.driver.as_str();
    let flag = format_ident!("{}", driver.to_ascii_uppercase());
    let message = format!(
        "database `{}` uses {driver}, but dbgen-runtime is built without its `{driver}` feature: add it to the dependency, e.g. dbgen-runtime = {{{{ ..., features = [\"{driver}\"] }}}}",
        db.name
    );
    quote! {
        const _: () = ::core::assert!(::dbgen_runtime::__features::#flag, #message);
    }
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
    let no_transaction = m.no_transaction;
    quote! {
        ::dbgen_runtime::core::Migration {
            version: #version,
            name: #name,
            checksum: ::dbgen_runtime::core::Checksum(*#checksum),
            source: ::dbgen_runtime::core::ScriptSource::Embedded(&#scripts[#index]),
            no_transaction: #no_transaction,
        }
    }
}

fn seed(root: &Path, s: &Seed) -> Tokens {
    let name = cow(&s.name);
    let sql = included(root, &s.path);
    let path = cow(&s.path);
    quote! { ::dbgen_runtime::core::Seed { name: #name, sql: ::std::borrow::Cow::Borrowed(#sql), path: #path } }
}

fn definition(databases: &[Database], index: usize, db: &Database) -> Tokens {
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
    let tenants = match &c.tenants {
        None => quote! { ::std::option::Option::None },
        Some(source) => {
            let source = match source {
                dbgen_core::TenantSource::Schemas { sql } => {
                    let sql = cow(sql);
                    quote! { Schemas { sql: #sql } }
                }
                dbgen_core::TenantSource::Query { database, sql } => {
                    let (database, sql) = (cow(database), cow(sql));
                    quote! { Query { database: #database, sql: #sql } }
                }
                dbgen_core::TenantSource::File { path } => {
                    let path = cow(path);
                    quote! { File { path: #path } }
                }
            };
            quote! { ::std::option::Option::Some(::dbgen_runtime::core::TenantSource::#source) }
        }
    };
    let migrations = migrations_static(databases, index);
    let seeds = format_ident!("SEEDS_{index}");
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
                tenants: #tenants,
            },
            migrations: ::std::borrow::Cow::Borrowed(&#migrations),
            seeds: ::std::borrow::Cow::Borrowed(&#seeds),
        }
    }
}
