//! Adding a variant to the user's `#[derive(Databases)]` enum without reformatting their file:
//! syn finds the enum and proc-macro2's span locations give byte offsets, and only the new
//! line (plus a missing comma) is inserted; every other byte stays as it was.

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Item, ItemEnum, Token};

/// The derive's name; matched on the last path segment (`Databases`, `dbgen_runtime::Databases`).
const DERIVE: &str = "Databases";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The new text of the file.
    Added(String),
    AlreadyPresent,
    /// Why the file can't be edited safely; the caller tells the user to add the line by hand.
    Unusable(String),
}

/// Adds `variant`, after the lines of `attributes` (its doc comment), as the last variant of
/// the one enum in `source` that derives `Databases`.
pub fn add_variant(source: &str, variant: &str, attributes: &[String]) -> Edit {
    // syn does not accept a byte order mark; offsets are shifted back by its length.
    let bom = if source.starts_with('\u{feff}') { 3 } else { 0 };
    let file = match syn::parse_str::<syn::File>(&source[bom..]) {
        Ok(file) => file,
        Err(e) => {
            let at = e.span().start();
            return Edit::Unusable(format!(
                "it does not parse as Rust ({e}, line {}:{})",
                at.line,
                at.column + 1
            ));
        }
    };
    let found = registry_enums(&file);
    let item = match found.as_slice() {
        [item] => *item,
        [] => {
            return Edit::Unusable(format!("it has no enum with #[derive({DERIVE})]"));
        }
        many => {
            return Edit::Unusable(format!(
                "it has {} enums with #[derive({DERIVE})] and dbgen cannot tell which one to extend",
                many.len()
            ));
        }
    };
    if item.variants.iter().any(|v| v.ident == variant) {
        return Edit::AlreadyPresent;
    }

    let close = bom + item.brace_token.span.close().byte_range().start;
    let open = bom + item.brace_token.span.open().byte_range().start;
    if source.as_bytes().get(close) != Some(&b'}') || source.as_bytes().get(open) != Some(&b'{') {
        return Edit::Unusable("dbgen could not locate the enum's braces".to_string());
    }
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };

    let last = item.variants.last();
    // Indent like the last variant, unless it sits on the `{` line (a one-line enum).
    let indent = match last {
        Some(v) => {
            let at = bom + v.ident.span().byte_range().start;
            let start = line_start(source, at);
            if start > open {
                leading_whitespace(&source[start..])
            } else {
                "    "
            }
        }
        None => "    ",
    };

    let mut block = String::new();
    for line in attributes
        .iter()
        .map(|l| l.as_str())
        .chain([&*format!("{variant},")])
    {
        block.push_str(indent);
        block.push_str(line);
        block.push_str(newline);
    }
    let mut out = source.to_string();
    // Insert from the end so earlier offsets stay valid.
    let brace_line = line_start(source, close);
    if source[brace_line..close].trim().is_empty() && brace_line > open {
        out.insert_str(brace_line, &block);
    } else {
        // `}` shares its line with other code: move it to a line of its own.
        let trimmed = source[..close].trim_end_matches([' ', '\t']).len();
        out.replace_range(trimmed..close, &format!("{newline}{block}"));
    }
    if let Some(last) = last.filter(|_| !item.variants.trailing_punct()) {
        out.insert(bom + last.span().byte_range().end, ',');
    }
    Edit::Added(out)
}

/// The lines above `variant` in the registry enum of `source` (its doc comment and other
/// attributes), unindented: what the registry module's template writes above a variant, so
/// that a variant added later gets the same. Empty when `source` has no such variant.
pub fn variant_attributes(source: &str, variant: &str) -> Vec<String> {
    let Ok(file) = syn::parse_str::<syn::File>(source) else {
        return Vec::new();
    };
    let found = registry_enums(&file);
    let Some(v) = found
        .iter()
        .flat_map(|item| &item.variants)
        .find(|v| v.ident == variant)
    else {
        return Vec::new();
    };
    let Some(first) = v.attrs.first() else {
        return Vec::new();
    };
    let (start, end) = (
        line_start(source, first.span().byte_range().start),
        v.ident.span().byte_range().start,
    );
    source
        .get(start..end)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

fn registry_enums(file: &syn::File) -> Vec<&ItemEnum> {
    let mut found = Vec::new();
    collect_registry_enums(&file.items, &mut found);
    found
}

/// Enums deriving `Databases`, at top level or in inline modules.
fn collect_registry_enums<'a>(items: &'a [Item], found: &mut Vec<&'a ItemEnum>) {
    for item in items {
        match item {
            Item::Enum(e) if derives_registry(e) => found.push(e),
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect_registry_enums(items, found);
                }
            }
            _ => {}
        }
    }
}

fn derives_registry(item: &ItemEnum) -> bool {
    item.attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .filter_map(|attr| {
            attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .ok()
        })
        .flatten()
        .any(|path| path.segments.last().is_some_and(|s| s.ident == DERIVE))
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn leading_whitespace(line: &str) -> &str {
    let end = line
        .find(|c: char| c != ' ' && c != '\t')
        .unwrap_or(line.len());
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(source: &str, variant: &str) -> String {
        match add_variant(source, variant, &[]) {
            Edit::Added(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn appends_after_the_last_variant() {
        let src = "#[derive(dbgen_runtime::Databases)]\n#[databases(root = \"database\")]\npub enum Database {\n    Permiso,\n}\n";
        assert_eq!(
            added(src, "Audit"),
            "#[derive(dbgen_runtime::Databases)]\n#[databases(root = \"database\")]\npub enum Database {\n    Permiso,\n    Audit,\n}\n"
        );
    }

    #[test]
    fn adds_a_missing_trailing_comma() {
        let src = "#[derive(Databases)]\nenum Db {\n    A,\n    B // the last one\n}\n";
        assert_eq!(
            added(src, "C"),
            "#[derive(Databases)]\nenum Db {\n    A,\n    B, // the last one\n    C,\n}\n"
        );
    }

    #[test]
    fn keeps_comments_attributes_and_other_items() {
        let src = "\
//! Registry.
use dbgen_runtime::Databases;

/// Docs.
#[derive(Debug, Databases, Clone)]
#[databases(root = \"database\")]
pub enum Database {
\t/// The main one.
\t#[allow(dead_code)]
\tPermiso,
\t// Audit is coming.
}

enum Other { X }
";
        let out = added(src, "PermisoTest");
        assert_eq!(
            out,
            src.replace(
                "\t// Audit is coming.\n}",
                "\t// Audit is coming.\n\tPermisoTest,\n}"
            )
        );
    }

    #[test]
    fn last_variant_with_attributes_and_a_discriminant() {
        let src = "#[derive(Databases)]\nenum Db {\n  #[doc = \"x\"]\n  A = 1\n}\n";
        assert_eq!(
            added(src, "B"),
            "#[derive(Databases)]\nenum Db {\n  #[doc = \"x\"]\n  A = 1,\n  B,\n}\n"
        );
    }

    #[test]
    fn empty_and_one_line_enums() {
        assert_eq!(
            added("#[derive(Databases)]\nenum Db {}\n", "A"),
            "#[derive(Databases)]\nenum Db {\n    A,\n}\n"
        );
        assert_eq!(
            added("#[derive(Databases)]\nenum Db { A, B }\n", "C"),
            "#[derive(Databases)]\nenum Db { A, B,\n    C,\n}\n"
        );
        assert_eq!(
            added("#[derive(Databases)]\nenum Db {\n}\n", "A"),
            "#[derive(Databases)]\nenum Db {\n    A,\n}\n"
        );
    }

    #[test]
    fn inline_modules_crlf_bom_and_unicode() {
        let src = "\u{feff}// é ü\r\nmod inner {\r\n    #[derive(Databases)]\r\n    pub enum Db {\r\n        /// ünïcode\r\n        A\r\n    }\r\n}\r\n";
        assert_eq!(
            added(src, "B"),
            "\u{feff}// é ü\r\nmod inner {\r\n    #[derive(Databases)]\r\n    pub enum Db {\r\n        /// ünïcode\r\n        A,\r\n        B,\r\n    }\r\n}\r\n"
        );
    }

    #[test]
    fn a_doc_comment_goes_above_the_variant_at_its_indent() {
        let doc = vec!["/// `database/audit/` (sqlite).".to_string()];
        let src = "#[derive(Databases)]\nenum Db {\n\t/// Main.\n\tA,\n}\n";
        assert_eq!(
            add_variant(src, "Audit", &doc),
            Edit::Added(
                "#[derive(Databases)]\nenum Db {\n\t/// Main.\n\tA,\n\t/// `database/audit/` (sqlite).\n\tAudit,\n}\n"
                    .to_string()
            )
        );
        assert_eq!(
            add_variant("#[derive(Databases)]\nenum Db { A }\n", "B", &doc),
            Edit::Added(
                "#[derive(Databases)]\nenum Db { A,\n    /// `database/audit/` (sqlite).\n    B,\n}\n"
                    .to_string()
            )
        );
    }

    #[test]
    fn the_lines_above_a_variant_are_found() {
        let src = "#[derive(Databases)]\npub enum Database {\n    /// One.\n    /// Two.\n    #[database(name = \"x\")]\n    A,\n    B,\n}\n";
        assert_eq!(
            variant_attributes(src, "A"),
            ["/// One.", "/// Two.", "#[database(name = \"x\")]"]
        );
        assert!(variant_attributes(src, "B").is_empty());
        assert!(variant_attributes(src, "C").is_empty());
        assert!(variant_attributes("not rust {", "A").is_empty());
    }

    #[test]
    fn an_existing_variant_is_reported() {
        let src = "#[derive(Databases)]\nenum Db { Permiso }\n";
        assert_eq!(add_variant(src, "Permiso", &[]), Edit::AlreadyPresent);
    }

    #[test]
    fn unusable_files_say_why() {
        let Edit::Unusable(why) = add_variant("fn main() {", "A", &[]) else {
            panic!()
        };
        assert!(why.contains("does not parse"), "{why}");
        let Edit::Unusable(why) = add_variant("#[derive(Debug)]\nenum Db { A }\n", "B", &[]) else {
            panic!()
        };
        assert!(why.contains("no enum with #[derive(Databases)]"), "{why}");
        let two = "#[derive(Databases)]\nenum A {}\n#[derive(Databases)]\nenum B {}\n";
        let Edit::Unusable(why) = add_variant(two, "C", &[]) else {
            panic!()
        };
        assert!(why.contains("2 enums"), "{why}");
    }
}
