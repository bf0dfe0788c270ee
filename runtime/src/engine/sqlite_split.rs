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
        if matches!(token, Token::Semi) && state == START && i - start >= PIECE {
            pieces.push(&sql[start..i]);
            start = i;
        }
    }
    if start < sql.len() {
        pieces.push(&sql[start..]);
    }
    pieces
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
}
