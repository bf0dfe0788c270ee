//! `#[dbgen_runtime::test(Database::Shop)]`: wraps an `async fn` taking a pool into a
//! `#[test]` that runs it on a fresh database. The work is dbgen-runtime's
//! (`testing::run_test`); this only turns the attribute's words into that call.

use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, ItemFn, LitInt, LitStr, Token};

/// The attribute's arguments: the database, then `seeds`, `seed = "name"` (repeatable) and
/// `to = VERSION` in any order.
struct Arguments {
    database: Expr,
    calls: Vec<Tokens>,
}

fn parse_arguments(input: ParseStream<'_>) -> syn::Result<Arguments> {
    if input.is_empty() {
        return Err(input.error(
            "name the database: #[dbgen_runtime::test(Database::Shop)], optionally with `seeds`, `seed = \"01_roles\"` or `to = VERSION`",
        ));
    }
    let database: Expr = input.parse()?;
    let mut calls = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key: syn::Ident = input.parse()?;
        match key.to_string().as_str() {
            "seeds" => calls.push(quote! { .all_seeds() }),
            "seed" => {
                input.parse::<Token![=]>()?;
                let name: LitStr = input.parse()?;
                calls.push(quote! { .seed(#name) });
            }
            "to" => {
                input.parse::<Token![=]>()?;
                let version: LitInt = input.parse()?;
                calls.push(quote! { .to(#version) });
            }
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `seeds`, `seed = \"name\"` or `to = VERSION`",
                ));
            }
        }
    }
    Ok(Arguments { database, calls })
}

pub(crate) fn expand(args: Tokens, item: Tokens) -> syn::Result<Tokens> {
    let Arguments { database, calls } = parse_arguments.parse2(args)?;
    let function: ItemFn = syn::parse2(item)?;
    let signature = &function.sig;
    if signature.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            signature.fn_token,
            "#[dbgen_runtime::test] goes on an `async fn` taking the database's pool: `async fn lists_roles(pool: sqlx::PgPool)`",
        ));
    }
    if signature.inputs.len() != 1 {
        return Err(syn::Error::new_spanned(
            &signature.inputs,
            "a #[dbgen_runtime::test] function takes one argument, the database's pool: `pool: sqlx::PgPool` (or sqlx::MySqlPool, sqlx::SqlitePool, dbgen_runtime::Pool)",
        ));
    }
    let name = &signature.ident;
    let output = &signature.output;
    let inputs = &signature.inputs;
    let body = &function.block;
    let attrs = &function.attrs;
    let vis = &function.vis;
    // A `#[should_panic]` test passes by panicking: its database goes like any passed one's.
    let expecting_panic = attrs
        .iter()
        .any(|a| a.path().is_ident("should_panic"))
        .then(|| quote! { .expecting_panic() });
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #output {
            async fn __dbgen_test(#inputs) #output #body
            ::dbgen_runtime::testing::run_test(
                ::dbgen_runtime::testing::Fresh::of(#database) #(#calls)* #expecting_panic,
                __dbgen_test,
            )
        }
    })
}
