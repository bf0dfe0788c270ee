//! The one redactor every string that leaves the process passes: it knows every secret of
//! a run (passwords, placeholder values) and hides each one wherever it appears, including
//! inside a driver's error message that echoes a failed statement.

use std::borrow::Cow;

use crate::{Database, Env};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// How MariaDB and MySQL end the quote of a statement in an error message.
const CUT_QUOTE_END: &str = "' at line";

/// The shortest start of a secret masked where a server cut the secret off.
const MIN_CUT: usize = 4;

/// Secrets shorter than this are not searched for: hiding every `a` of a message would
/// leave nothing readable, and a one-character value protects nothing.
const SHORTEST_SECRET: usize = 2;

/// Hides known secrets in text. Matching ignores ASCII case, since PostgreSQL folds an
/// unquoted identifier to lower case before echoing it (`column "zq7secret" does not exist`).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a secret holding another is hidden whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every secret a run over `databases` can meet in `env`: the value of every variable
    /// ending in `_PASSWORD`, the password inside every `*_URL` variable, and the value of
    /// every placeholder the databases declare (secrets such as role passwords go there).
    pub fn for_run<'a>(databases: impl IntoIterator<Item = &'a Database>, env: &Env) -> Self {
        let mut redactor = Self::new();
        for (key, value) in env {
            if key.ends_with("_PASSWORD") {
                redactor.add(value);
            } else if key.ends_with("_URL") {
                redactor.add_url(value);
            }
        }
        for db in databases {
            for p in db.config.placeholders.iter() {
                match env.get(p.env.as_ref()) {
                    Some(value) => redactor.add(value),
                    None => redactor.add(p.default.as_deref().unwrap_or_default()),
                }
            }
        }
        redactor
    }

    /// Adds a secret, and its percent-decoded form (URLs carry passwords encoded).
    pub fn add(&mut self, secret: &str) {
        for form in [secret.to_string(), percent_decode(secret)] {
            if form.len() >= SHORTEST_SECRET && !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Adds the passwords a connection URL holds (`user:PASSWORD@`, `?password=`).
    pub fn add_url(&mut self, url: &str) {
        for password in url_passwords(url) {
            self.add(password);
        }
    }

    /// `text` with every known secret replaced by `***`, and the start of one that a
    /// server cut off where it quotes a statement (MariaDB's `near '...' at line N` keeps
    /// 80 characters).
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if let Some(replaced) = replace_ignoring_ascii_case(&out, secret) {
                out = Cow::Owned(replaced);
            }
        }
        if out.contains(CUT_QUOTE_END)
            && let Some(replaced) = self.hide_cut_prefixes(&out)
        {
            out = Cow::Owned(replaced);
        }
        out
    }

    /// Masks the longest start of a secret (4 characters or more) that ends a quote a
    /// server cut off.
    fn hide_cut_prefixes(&self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find(CUT_QUOTE_END) {
            let before = &rest[..at];
            let cut = self
                .secrets
                .iter()
                .flat_map(|secret| {
                    (MIN_CUT..secret.len())
                        .rev()
                        .filter(|k| secret.is_char_boundary(*k))
                        .map(move |k| &secret[..k])
                })
                .find(|prefix| {
                    before.len() >= prefix.len()
                        && before.is_char_boundary(before.len() - prefix.len())
                        && before[before.len() - prefix.len()..].eq_ignore_ascii_case(prefix)
                });
            match cut {
                Some(prefix) => {
                    out.push_str(&before[..before.len() - prefix.len()]);
                    out.push_str(MASK);
                    changed = true;
                }
                None => out.push_str(before),
            }
            out.push_str(CUT_QUOTE_END);
            rest = &rest[at + CUT_QUOTE_END.len()..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }
}

/// `None` when `needle` does not occur in `haystack`.
fn replace_ignoring_ascii_case(haystack: &str, needle: &str) -> Option<String> {
    let (hay, pin) = (haystack.as_bytes(), needle.as_bytes());
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    while i + pin.len() <= hay.len() {
        if hay[i..i + pin.len()].eq_ignore_ascii_case(pin)
            && haystack.is_char_boundary(i)
            && haystack.is_char_boundary(i + pin.len())
        {
            let out = out.get_or_insert_with(|| String::with_capacity(haystack.len()));
            out.push_str(&haystack[copied..i]);
            out.push_str(MASK);
            i += pin.len();
            copied = i;
        } else {
            i += 1;
        }
    }
    out.map(|mut out| {
        out.push_str(&haystack[copied..]);
        out
    })
}

/// Where a URL's `user:password@` part ends: its last `@`. A password may hold any
/// character, `/`, `?` and `@` included, so the first `/` is no guide; an `@` later in the
/// query only makes more of the URL count as the user part, which hides more, never less.
fn userinfo_end(rest: &str) -> Option<usize> {
    rest.rfind('@')
}

/// The passwords in a URL: the one after `user:`, and any `password=` query value.
pub(crate) fn url_passwords(url: &str) -> Vec<&str> {
    let mut found = Vec::new();
    if let Some((_, rest)) = url.split_once("://")
        && let Some(end) = userinfo_end(rest)
        && let Some((_, password)) = rest[..end].split_once(':')
    {
        found.push(password);
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((key, value)) = pair.split_once('=')
                && key.to_ascii_lowercase().contains("password")
            {
                found.push(value);
            }
        }
    }
    found
}

/// `scheme://user:***@host/db?password=***`: a URL with its passwords hidden, whatever
/// characters they hold.
pub fn redact_url(url: &str) -> String {
    let mut redactor = Redactor::new();
    redactor.add_url(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return redactor.redact(url).into_owned();
    };
    // Rebuilt around the password rather than searched for it, so that a password equal to
    // the user name or the host hides only itself.
    let rest = match userinfo_end(rest) {
        Some(end) => match rest[..end].split_once(':') {
            Some((user, _)) => format!("{user}:{MASK}{}", &rest[end..]),
            None => rest.to_string(),
        },
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((before, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                        format!("{key}={MASK}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{before}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_with_any_character() {
        for password in [
            "Zq7/Secret",
            "Zq7?Secret",
            "Zq7@Secret",
            "Zq7:Sec#ret%'",
            "p/a?s@s",
        ] {
            let url = format!("postgres://app:{password}@127.0.0.1:5432/x?sslmode=disable");
            let shown = redact_url(&url);
            assert!(!shown.contains(password), "{shown}");
            assert!(shown.starts_with("postgres://app:***@"), "{shown}");
            assert!(
                shown.ends_with("127.0.0.1:5432/x?sslmode=disable"),
                "{shown}"
            );
        }
        assert_eq!(
            redact_url("mysql://root@h/db?password=s3cret&x=1"),
            "mysql://root@h/db?password=***&x=1"
        );
        assert_eq!(redact_url("sqlite://a/b.sqlite3"), "sqlite://a/b.sqlite3");
        assert_eq!(
            redact_url("postgres://postgres:postgres@localhost/postgres"),
            "postgres://postgres:***@localhost/postgres"
        );
    }

    #[test]
    fn secrets_anywhere_in_any_ascii_case() {
        let mut r = Redactor::new();
        r.add("Zq7Secret");
        r.add("a");
        assert_eq!(
            r.redact("column \"zq7secret\" does not exist; near 'Zq7Secret''"),
            "column \"***\" does not exist; near '***''"
        );
        assert_eq!(r.redact("a plain text"), "a plain text");
    }

    #[test]
    fn the_start_of_a_secret_a_server_cut_off() {
        let mut r = Redactor::new();
        r.add("Zq7SecretLongValue");
        assert_eq!(
            r.redact("syntax to use near 'IDENTIFIED BY 'Zq7Secr' at line 1"),
            "syntax to use near 'IDENTIFIED BY '***' at line 1"
        );
        // Shorter than four characters: too common to mask.
        assert_eq!(r.redact("near 'x Zq7' at line 1"), "near 'x Zq7' at line 1");
        // Secrets of any characters are cut on character boundaries.
        r.add("pässwörd-ünïcode");
        assert_eq!(r.redact("near 'pässw' at line 1"), "near '***' at line 1");
    }

    #[test]
    fn percent_encoded_and_decoded() {
        let mut r = Redactor::new();
        r.add_url("postgres://u:Zq7%2FSecret@h/d");
        assert_eq!(r.redact("x Zq7/Secret y Zq7%2FSecret"), "x *** y ***");
    }

    #[test]
    fn the_secrets_of_a_run() {
        let env: Env = [
            ("APP_DB_PASSWORD", "pw-one"),
            ("APP_DB_URL", "postgres://u:pw-two@h/d"),
            ("PATH", "/usr/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let r = Redactor::for_run([], &env);
        assert_eq!(r.redact("pw-one pw-two /usr/bin"), "*** *** /usr/bin");
    }
}
