//! Listing folders and reading scripts: the only file system access of the loader.
//!
//! A thousand small scripts cost more in system calls than in anything else, so this
//! module keeps them few: one listing per folder, and `open`, `read`, `read`, `close` per
//! script, spread over the cores.

use std::borrow::Cow;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use crate::Error;
use crate::config::display_path;

/// One entry of a folder: its name only, so that a listing of 20,000 files does not hold
/// 20,000 full paths.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// The entries of `dir` sorted by name, without dotfiles; a missing folder is empty.
pub(crate) fn sorted_entries(dir: &Path, missing_ok: bool) -> Result<Vec<Entry>, Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if missing_ok && e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(Error::BadFile {
                path: entry.path(),
                reason: "the file name is not valid UTF-8: rename it".to_string(),
            });
        };
        if !name.starts_with('.') {
            // The entry's type comes with the listing; only a symlink needs a `stat`.
            let is_dir = match entry.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => entry.path().is_dir(),
            };
            out.push(Entry { name, is_dir });
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the scripts `dir/<name>` in the order of `names`, on several threads when there
/// are enough of them to pay off.
pub(crate) fn read_scripts(root: &Path, dir: &Path, names: &[&str]) -> Result<Vec<String>, Error> {
    const PER_THREAD: usize = 128;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(names.len().div_ceil(PER_THREAD))
        .max(1);
    let read_all = |part: &[&str]| {
        let mut buffer = ScriptBuffer::new();
        part.iter()
            .map(|name| buffer.read(root, &dir.join(name)))
            .collect::<Result<Vec<_>, _>>()
    };
    if threads == 1 {
        return read_all(names);
    }
    let mut parts = names.chunks(names.len().div_ceil(threads));
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let readers: Vec<_> = parts
            .map(|part| scope.spawn(move || read_all(part)))
            .collect();
        // This thread reads the first part rather than wait idle.
        let mut scripts = read_all(first)?;
        scripts.reserve(names.len() - scripts.len());
        for reader in readers {
            let part = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            scripts.extend(part);
        }
        Ok(scripts)
    })
}

/// Reads one script (a seed).
pub(crate) fn read_script(root: &Path, path: &Path) -> Result<String, Error> {
    ScriptBuffer::new().read(root, path)
}

/// A buffer reused across the scripts one thread reads.
struct ScriptBuffer(Vec<u8>);

impl ScriptBuffer {
    fn new() -> Self {
        Self(vec![0; 16 * 1024])
    }

    /// Reads until end of file into the buffer, then copies out an exactly sized string.
    /// (`fs::read` would `stat` each file for its size first: one system call in five.)
    fn read(&mut self, root: &Path, path: &Path) -> Result<String, Error> {
        let io = |source| Error::Io {
            path: display_path(root, path),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let mut len = 0;
        loop {
            if len == self.0.len() {
                self.0.resize(2 * len, 0);
            }
            match file.read(&mut self.0[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let text = std::str::from_utf8(&self.0[..len]).map_err(|_| Error::BadFile {
            path: display_path(root, path),
            reason: "the file is not valid UTF-8: save it as UTF-8".to_string(),
        })?;
        Ok(text.to_owned())
    }
}

/// `path` relative to `root` with `/` separators, as migrations and seeds show it.
pub(crate) fn relative(root: &Path, path: &Path) -> Cow<'static, str> {
    Cow::Owned(
        display_path(root, path)
            .to_string_lossy()
            .replace('\\', "/"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_larger_than_the_buffer_are_read_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let big = "select 1;\n".repeat(5_000); // 50 KB: the buffer grows twice
        let names: Vec<String> = (0..300).map(|i| format!("{i:03}.sql")).collect();
        for (i, name) in names.iter().enumerate() {
            let text = if i == 7 {
                big.clone()
            } else {
                format!("-- {i}\n")
            };
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let scripts = read_scripts(dir.path(), dir.path(), &refs).unwrap();
        assert_eq!(scripts.len(), 300);
        assert_eq!(scripts[7], big);
        assert_eq!(scripts[299], "-- 299\n");
        assert_eq!(scripts[7].capacity(), big.len());
    }

    #[test]
    fn a_missing_or_non_utf8_script_names_its_path_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.sql"), [0xff, 0xfe]).unwrap();
        let err = read_script(dir.path(), &dir.path().join("bad.sql")).unwrap_err();
        assert!(
            err.to_string().contains("bad.sql") && err.to_string().contains("UTF-8"),
            "{err}"
        );
        let err = read_scripts(dir.path(), dir.path(), &["gone.sql"]).unwrap_err();
        assert!(err.to_string().contains("gone.sql"), "{err}");
    }
}
