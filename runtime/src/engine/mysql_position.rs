//! Where in its file a MariaDB/MySQL error is. The server numbers lines from the start of
//! the failing statement ("... at line 2"), and a script holds many statements: knowing how
//! many statements ran before the failing one, this finds the file's line.

/// Byte offsets where each statement of `sql` starts: its first character that is not
/// whitespace, after the `;` ending the one before. `None` when the script holds a compound
/// statement (`BEGIN ... END` with `;` inside), whose bounds only the server's parser knows.
fn statement_starts(sql: &str) -> Option<Vec<usize>> {
    let bytes = sql.as_bytes();
    if sql.to_ascii_uppercase().contains("BEGIN") {
        return None;
    }
    let mut starts = Vec::new();
    let mut at_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if at_start && !b.is_ascii_whitespace() {
            starts.push(i);
            at_start = false;
        }
        i = match b {
            b'\'' | b'"' | b'`' => {
                // A quote ends at the next unescaped same quote (doubled quotes pair up).
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                j + 1
            }
            b'#' => memchr_line_end(bytes, i),
            b'-' if bytes.get(i + 1) == Some(&b'-')
                && bytes.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                memchr_line_end(bytes, i)
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |end| i + 2 + end + 2),
            b';' => {
                at_start = true;
                i + 1
            }
            _ => i + 1,
        };
    }
    Some(starts)
}

fn memchr_line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// The file's (line, column) of an error the server placed `at line N` of the statement
/// after the first `ran` statements of `script`.
pub(crate) fn file_position(script: &str, ran: usize, message: &str) -> Option<(usize, usize)> {
    let line_in_statement: usize = message
        .rsplit_once(" at line ")?
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    let start = *statement_starts(script)?.get(ran)?;
    let before = &script[..start];
    let first_line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let line = first_line + line_in_statement.saturating_sub(1);
    Some((line, if line_in_statement <= 1 { column } else { 1 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_the_failing_statement_in_the_file() {
        let script = "-- a comment; not a statement end\nCREATE TABLE a (s VARCHAR(9) DEFAULT ';');\n\nCREATE TABLE b (\n  id INT,\n  oops x\n);\n";
        let message = "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'x\n)' at line 3";
        assert_eq!(file_position(script, 1, message), Some((6, 1)));
        let message = "... near 'CREATE TABLEX' at line 1";
        assert_eq!(file_position(script, 0, message), Some((1, 1)));
        assert_eq!(
            file_position("SELECT 1; SELEC 2;", 1, "x at line 1"),
            Some((1, 11))
        );
    }

    #[test]
    fn compound_statements_and_unknown_messages_give_no_position() {
        let script = "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;\nSELEC 1;";
        assert_eq!(file_position(script, 1, "x at line 1"), None);
        assert_eq!(file_position("SELECT 1;", 0, "no line here"), None);
        assert_eq!(file_position("SELECT 1;", 3, "x at line 1"), None);
    }
}
