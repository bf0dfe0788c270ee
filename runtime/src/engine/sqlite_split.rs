//! Cuts a large SQLite script into pieces of whole statements.
//!
//! SQLite copies the rest of a script each time it compiles one statement of it (a script
//! not ending in a NUL byte is duplicated by `sqlite3_prepare_v3`), so a script run in one
//! piece takes time that grows with the square of its size: 31 s for 16 MB. Run in pieces of
//! a few KiB it takes linear time. Pieces end only where SQLite's own `sqlite3_complete`
//! would call the text complete, so a `CREATE TRIGGER ... BEGIN ...; ...; END;` body, a
//! string or a comment holding `;` is never cut.

/// Scripts up to this size run in one piece, as before.
pub(crate) const SPLIT_FROM: usize = 64 * 1024;

/// The size a piece grows to before it ends at the next statement boundary.
const PIECE: usize = 8 * 1024;

#[derive(Clone, Copy)]
enum Token {
    Semi = 0,
    Space = 1,
    Other = 2,
    Explain = 3,
    Create = 4,
    Temp = 5,
    Trigger = 6,
    End = 7,
}

/// `sqlite3_complete`'s state machine (SQLite's complete.c), by state and token. State 1
/// (START) after a `;` is the end of a statement.
const NEXT: [[u8; 8]; 8] = [
    /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
    /* 1 START   */ [1, 1, 2, 3, 4, 2, 2, 2],
    /* 2 NORMAL  */ [1, 2, 2, 2, 2, 2, 2, 2],
    /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
    /* 4 CREATE  */ [1, 4, 2, 2, 2, 4, 5, 2],
    /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
    /* 6 SEMI    */ [6, 6, 5, 5, 5, 5, 5, 7],
    /* 7 END     */ [1, 7, 5, 5, 5, 5, 5, 5],
];

const START: u8 = 1;

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn keyword(word: &[u8]) -> Token {
    let is = |k: &str| word.eq_ignore_ascii_case(k.as_bytes());
    if is("create") {
        Token::Create
    } else if is("trigger") {
        Token::Trigger
    } else if is("temp") || is("temporary") {
        Token::Temp
    } else if is("end") {
        Token::End
    } else if is("explain") {
        Token::Explain
    } else {
        Token::Other
    }
}

/// The pieces of `sql`, in order; joined they are `sql`. An unterminated string or comment
/// ends the cutting: the rest is one piece, and SQLite reports the error as it would.
pub(crate) fn pieces(sql: &str) -> Vec<&str> {
    split(sql, PIECE)
}

/// The statements of `sql`, in order, each with the comments and spaces before it and its
/// `;`; joined they are `sql`. Cut as [`pieces`] are, so a trigger body is one statement.
pub(crate) fn statements(sql: &str) -> Vec<&str> {
    split(sql, 1)
}

/// `sql` cut after the first statement end at which a piece has reached `min` bytes.
fn split(sql: &str, min: usize) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut state, mut start, mut i) = (0u8, 0usize, 0usize);
    let find = |from: usize, pattern: &[u8]| {
        bytes[from..]
            .windows(pattern.len())
            .position(|w| w == pattern)
            .map(|p| from + p)
    };
    while i < bytes.len() {
        let b = bytes[i];
        let token = match b {
            b';' => {
                i += 1;
                Token::Semi
            }
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                i += 1;
                Token::Space
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match find(i + 2, b"*/") {
                Some(end) => {
                    i = end + 2;
                    Token::Space
                }
                None => break,
            },
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = find(i + 2, b"\n").map_or(bytes.len(), |end| end + 1);
                Token::Space
            }
            b'[' => match find(i + 1, b"]") {
                Some(end) => {
                    i = end + 1;
                    Token::Other
                }
                None => break,
            },
            b'`' | b'"' | b'\'' => match find(i + 1, &[b]) {
                Some(end) => {
                    i = end + 1;
                    Token::Other
                }
                None => break,
            },
            b if is_id_char(b) => {
                let word_start = i;
                while i < bytes.len() && is_id_char(bytes[i]) {
                    i += 1;
                }
                keyword(&bytes[word_start..i])
            }
            _ => {
                i += 1;
                Token::Other
            }
        };
        state = NEXT[state as usize][token as usize];
        if matches!(token, Token::Semi) && state == START && i - start >= min {
            pieces.push(&sql[start..i]);
            start = i;
        }
    }
    if start < sql.len() {
        pieces.push(&sql[start..]);
    }
    pieces
}

/// A statement that SQLite ignores, or refuses, inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutsideOnly {
    /// `PRAGMA foreign_keys = ...`: ignored.
    ForeignKeys,
    /// `PRAGMA journal_mode = ...`: into or out of WAL it fails, other modes are ignored.
    JournalMode,
    /// `VACUUM`: refused.
    Vacuum,
}

/// Where such a statement is in a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub kind: OutsideOnly,
    /// The byte offset of its first word in the script.
    pub offset: usize,
    /// The statement from its first word, without its `;`.
    pub text: &'a str,
}

/// The statements of `sql` that have no effect inside a transaction, in order: the setting
/// forms of `PRAGMA foreign_keys` and `PRAGMA journal_mode` (with or without a schema; the
/// query forms only read) and `VACUUM`.
pub(crate) fn outside_only(sql: &str) -> Vec<Found<'_>> {
    let mentioned = |word: &[u8]| {
        sql.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    // Most scripts have neither word: no need to cut them.
    if !mentioned(b"pragma") && !mentioned(b"vacuum") {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut offset = 0;
    for statement in statements(sql) {
        if let Some((kind, start)) = classify(statement.as_bytes()) {
            let text = statement[start..].trim_end();
            let text = text.strip_suffix(';').unwrap_or(text).trim_end();
            found.push(Found {
                kind,
                offset: offset + start,
                text,
            });
        }
        offset += statement.len();
    }
    found
}

/// What `statement` is, and where its first word starts, when it is one of [`OutsideOnly`].
fn classify(statement: &[u8]) -> Option<(OutsideOnly, usize)> {
    let is = |word: &[u8], keyword: &str| word.eq_ignore_ascii_case(keyword.as_bytes());
    let start = skip_blank(statement, 0);
    // A keyword is never quoted.
    if !statement.get(start).copied().is_some_and(is_id_char) {
        return None;
    }
    let (first, after) = name(statement, start)?;
    if is(first, "vacuum") {
        return Some((OutsideOnly::Vacuum, start));
    }
    if !is(first, "pragma") {
        return None;
    }
    // PRAGMA [schema .] name [= value | (value)]
    let (mut pragma, after) = name(statement, skip_blank(statement, after))?;
    let mut i = skip_blank(statement, after);
    if statement.get(i) == Some(&b'.') {
        let (named, after) = name(statement, skip_blank(statement, i + 1))?;
        pragma = named;
        i = skip_blank(statement, after);
    }
    if !matches!(statement.get(i), Some(b'=' | b'(')) {
        return None;
    }
    if is(pragma, "foreign_keys") {
        Some((OutsideOnly::ForeignKeys, start))
    } else if is(pragma, "journal_mode") {
        Some((OutsideOnly::JournalMode, start))
    } else {
        None
    }
}

/// The index of the first byte from `i` that is neither white space nor in a comment.
fn skip_blank(bytes: &[u8], mut i: usize) -> usize {
    loop {
        match &bytes[i.min(bytes.len())..] {
            [b' ' | b'\t' | b'\n' | b'\r' | 0x0c, ..] => i += 1,
            [b'-', b'-', rest @ ..] => {
                i = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + 2 + p + 1);
            }
            [b'/', b'*', rest @ ..] => {
                i = rest
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
            }
            _ => return i,
        }
    }
}

/// The identifier at `i`, bare or quoted (`"x"`, `[x]`, `` `x` ``, `'x'`), without its
/// quotes, and the index after it.
fn name(bytes: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let close = match *bytes.get(i)? {
        b'"' => b'"',
        b'`' => b'`',
        b'\'' => b'\'',
        b'[' => b']',
        b if is_id_char(b) => {
            let end = bytes[i..]
                .iter()
                .position(|&b| !is_id_char(b))
                .map_or(bytes.len(), |p| i + p);
            return Some((&bytes[i..end], end));
        }
        _ => return None,
    };
    let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == close)?;
    Some((&bytes[i + 1..end], end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(sql: &str) -> Vec<&str> {
        let pieces = pieces(sql);
        assert_eq!(pieces.concat(), sql);
        pieces
    }

    #[test]
    fn large_scripts_end_pieces_only_between_statements() {
        let statement = "INSERT INTO t VALUES ('a;b', \"c;\", [d;], `e;`); -- f;\n/* g; */\n";
        let sql = statement.repeat(2000);
        let pieces = cut(&sql);
        assert!(pieces.len() > 10, "{}", pieces.len());
        for piece in &pieces {
            assert!(piece.len() >= PIECE || std::ptr::eq(*piece, *pieces.last().unwrap()));
            // Each piece is whole statements: it ends right after a `;` that ends a statement.
            assert!(piece.ends_with(';') || piece.ends_with('\n'), "{piece:?}");
        }
    }

    #[test]
    fn a_trigger_body_is_never_cut() {
        let body = "UPDATE t SET x = x + 1; ".repeat(1000);
        let trigger = format!("CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN {body} END;");
        let sql = format!("{trigger}\nSELECT 1;\n{trigger}");
        let pieces = cut(&sql);
        for piece in &pieces {
            let opened = piece.matches("BEGIN").count();
            let closed = piece.matches("END;").count();
            assert_eq!(opened, closed, "{piece}");
        }
    }

    #[test]
    fn small_and_unterminated_scripts_stay_whole() {
        assert_eq!(cut("SELECT 1; SELECT 2;"), ["SELECT 1; SELECT 2;"]);
        let open = format!("{} SELECT 'unterminated", "SELECT 1;".repeat(2000));
        assert!(cut(&open).last().unwrap().contains("unterminated"));
    }

    #[test]
    fn statements_end_at_every_statement_end() {
        let sql = "CREATE TABLE t (x);\n-- a; comment\nINSERT INTO t VALUES ('a;b');\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM t; END;\nSELECT 1";
        let statements = statements(sql);
        assert_eq!(statements.concat(), sql);
        assert_eq!(
            statements,
            [
                "CREATE TABLE t (x);",
                "\n-- a; comment\nINSERT INTO t VALUES ('a;b');",
                "\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM t; END;",
                "\nSELECT 1",
            ]
        );
        assert_eq!(super::statements(""), Vec::<&str>::new());
    }

    fn kind(sql: &str) -> Option<OutsideOnly> {
        outside_only(sql).first().map(|found| found.kind)
    }

    #[test]
    fn pragmas_that_set_and_vacuum_are_found() {
        use OutsideOnly::*;
        for (sql, expected) in [
            ("PRAGMA foreign_keys=OFF;", Some(ForeignKeys)),
            ("pragma Foreign_Keys = 0", Some(ForeignKeys)),
            ("PRAGMA main.foreign_keys=OFF;", Some(ForeignKeys)),
            (
                "PRAGMA \"main\" . \"foreign_keys\" = off;",
                Some(ForeignKeys),
            ),
            ("PRAGMA foreign_keys(0);", Some(ForeignKeys)),
            (
                "/* x */ PRAGMA /* y */ foreign_keys -- z\n = ON;",
                Some(ForeignKeys),
            ),
            ("PRAGMA journal_mode=WAL;", Some(JournalMode)),
            ("PRAGMA main.journal_mode = 'delete';", Some(JournalMode)),
            ("VACUUM;", Some(Vacuum)),
            ("vacuum main", Some(Vacuum)),
            ("VACUUM INTO 'copy.db';", Some(Vacuum)),
            // Reading, checking, other pragmas, and mere mentions.
            ("PRAGMA journal_mode;", None),
            ("PRAGMA foreign_keys", None),
            ("PRAGMA foreign_key_check;", None),
            ("PRAGMA main.foreign_key_check(child);", None),
            ("PRAGMA defer_foreign_keys = ON;", None),
            ("PRAGMA foreign_keys_x = ON;", None),
            ("SELECT 'PRAGMA foreign_keys=OFF;';", None),
            ("-- PRAGMA foreign_keys=OFF;\nSELECT 1;", None),
            ("/* VACUUM; */ SELECT 1;", None),
            ("CREATE TABLE vacuum_log (pragma TEXT);", None),
            ("EXPLAIN PRAGMA foreign_keys = OFF;", None),
            ("INSERT INTO t VALUES (1); -- VACUUM\n", None),
        ] {
            assert_eq!(kind(sql), expected, "{sql}");
        }
    }

    #[test]
    fn the_statement_found_is_named_where_it_is() {
        let sql = "CREATE TABLE t (x);\n-- next\n  PRAGMA journal_mode = WAL ;\nVACUUM;";
        let found = outside_only(sql)[0];
        assert_eq!(found.kind, OutsideOnly::JournalMode);
        assert_eq!(found.text, "PRAGMA journal_mode = WAL");
        assert_eq!(&sql[found.offset..found.offset + 6], "PRAGMA");
        // A statement after a trigger body whose inner statements mention neither.
        let sql = "CREATE TRIGGER tr AFTER DELETE ON t BEGIN SELECT 'VACUUM'; END; VACUUM";
        let found = outside_only(sql)[0];
        assert_eq!((found.kind, found.text), (OutsideOnly::Vacuum, "VACUUM"));
        // Every one, in order: a script's `PRAGMA foreign_keys = OFF` does not hide what
        // follows it.
        let sql =
            "PRAGMA foreign_keys = OFF;\nCREATE TABLE t (x);\nVACUUM;\nPRAGMA foreign_keys = ON;";
        let found: Vec<_> = outside_only(sql).iter().map(|f| (f.kind, f.text)).collect();
        assert_eq!(
            found,
            [
                (OutsideOnly::ForeignKeys, "PRAGMA foreign_keys = OFF"),
                (OutsideOnly::Vacuum, "VACUUM"),
                (OutsideOnly::ForeignKeys, "PRAGMA foreign_keys = ON"),
            ]
        );
        // Unterminated quotes and comments end the scan without a panic.
        for sql in [
            "PRAGMA \"foreign_keys",
            "PRAGMA main.",
            "PRAGMA /* x",
            "PRAGMA [",
        ] {
            assert_eq!(kind(sql), None, "{sql}");
        }
    }
}
