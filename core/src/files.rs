//! Listing folders and reading scripts: the only file system access of the loader.
//!
//! A thousand small scripts cost more in system calls than in anything else, so this
//! module keeps them few: one listing per folder, and `open`, `read`, `read`, `close` per
//! script, spread over the cores.

use std::borrow::Cow;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Component, Path, PathBuf};

use crate::Error;
use crate::config::display_path;

/// One entry of a folder: its name only, so that a listing of 20,000 files does not hold
/// 20,000 full paths.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// Calls `each` with the name of every entry of `dir` but dotfiles and whether it is a
/// folder, in the file system's order; a missing folder has no entries.
pub(crate) fn for_each_entry(
    root: &Path,
    dir: &Path,
    mut each: impl FnMut(&str, bool) -> Result<(), Error>,
) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: display_path(root, dir),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io)?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            return Err(Error::BadFile {
                path: display_path(root, &entry.path()),
                reason: "the file name is not valid UTF-8: rename it".to_string(),
            });
        };
        if !name.starts_with('.') {
            // The entry's type comes with the listing; only a symlink needs a `stat`.
            let is_dir = match entry.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => entry.path().is_dir(),
            };
            each(name, is_dir)?;
        }
    }
    Ok(())
}

/// The entries of `dir` sorted by name, without dotfiles; a missing folder is empty.
pub(crate) fn sorted_entries(root: &Path, dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for_each_entry(root, dir, |name, is_dir| {
        out.push(Entry {
            name: name.to_string(),
            is_dir,
        });
        Ok(())
    })?;
    out.sort();
    Ok(out)
}

/// Reads the file of each of `items` (at `path_of(item)`) and hands its text to `visit`, on
/// several threads when there are enough files to pay off. Nothing read is kept.
pub(crate) fn visit_scripts<T: Send>(
    root: &Path,
    items: &mut [T],
    path_of: impl Fn(&T) -> PathBuf + Sync,
    visit: impl Fn(&mut T, &str) + Sync,
) -> Result<(), Error> {
    const PER_THREAD: usize = 128;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().div_ceil(PER_THREAD))
        .max(1);
    let visit_all = |part: &mut [T]| {
        let mut buffer = ScriptBuffer::new();
        for item in part {
            let path = path_of(item);
            let text = buffer.read(&path, || display_path(root, &path))?;
            visit(item, text);
        }
        Ok(())
    };
    if threads == 1 {
        return visit_all(items);
    }
    let size = items.len().div_ceil(threads);
    let mut parts = items.chunks_mut(size);
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let readers: Vec<_> = parts.map(|part| scope.spawn(|| visit_all(part))).collect();
        // This thread reads the first part rather than wait idle.
        let mut result = visit_all(first);
        for reader in readers {
            let part = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // The error of the earliest file wins, whichever thread finished first.
            result = result.and(part);
        }
        result
    })
}

/// Reads one script that messages call `shown`.
pub(crate) fn read_text(shown: &str, path: &Path) -> Result<String, Error> {
    ScriptBuffer::new()
        .read(path, || PathBuf::from(shown))
        .map(str::to_owned)
}

/// A buffer reused across the scripts one thread reads.
struct ScriptBuffer(Vec<u8>);

impl ScriptBuffer {
    fn new() -> Self {
        Self(vec![0; 16 * 1024])
    }

    /// Reads until end of file into the buffer. (`fs::read` would `stat` each file for its
    /// size first: one system call in five.) `shown` names the file in errors.
    fn read(&mut self, path: &Path, shown: impl Fn() -> PathBuf) -> Result<&str, Error> {
        let io = |source| Error::Io {
            path: shown(),
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
        std::str::from_utf8(&self.0[..len]).map_err(|_| Error::BadFile {
            path: shown(),
            reason: "the file is not valid UTF-8: save it as UTF-8".to_string(),
        })
    }
}

/// `a/b/../c` -> `a/c` and `a/./b` -> `a/b`, without touching the file system (so a symlink
/// is not followed), like a shell's `cd ..`. A `..` at the root stays at the root; a leading
/// `..` of a relative path is kept.
pub fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(Component::ParentDir | Component::CurDir) | None => out.push(".."),
            },
            part => out.push(part),
        }
    }
    out
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
    fn paths_lose_their_dots() {
        for (path, normal) in [
            ("/w/examples/app/../../database", "/w/database"),
            ("/w/./database", "/w/database"),
            ("../database", "../database"),
            ("a/../../b", "../b"),
            ("/..", "/"),
            ("src/..", ""),
        ] {
            assert_eq!(normalize_path(Path::new(path)), Path::new(normal), "{path}");
        }
    }

    #[test]
    fn every_script_is_visited_whole_with_its_own_item() {
        let dir = tempfile::tempdir().unwrap();
        let big = "select 1;\n".repeat(5_000); // 50 KB: the buffer grows twice
        let mut items: Vec<(usize, String)> = (0..300).map(|i| (i, String::new())).collect();
        for (i, _) in &items {
            let text = if *i == 7 {
                big.clone()
            } else {
                format!("-- {i}\n")
            };
            std::fs::write(dir.path().join(format!("{i:03}.sql")), text).unwrap();
        }
        visit_scripts(
            dir.path(),
            &mut items,
            |(i, _)| dir.path().join(format!("{i:03}.sql")),
            |(_, seen), text| *seen = text.to_string(),
        )
        .unwrap();
        assert_eq!(items[7].1, big);
        assert_eq!(items[299].1, "-- 299\n");
        assert_eq!(items[0].1, "-- 0\n");
    }

    #[test]
    fn a_missing_or_non_utf8_script_names_its_path_relative_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.sql"), [0xff, 0xfe]).unwrap();
        let mut items = ["bad.sql"];
        let err =
            visit_scripts(dir.path(), &mut items, |n| dir.path().join(n), |_, _| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("bad.sql") && err.to_string().contains("UTF-8"),
            "{err}"
        );
        let mut items = ["gone.sql"];
        let err =
            visit_scripts(dir.path(), &mut items, |n| dir.path().join(n), |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("gone.sql"), "{err}");
        let err = read_text("shown/bad.sql", &dir.path().join("bad.sql")).unwrap_err();
        assert!(err.to_string().starts_with("shown/bad.sql"), "{err}");
    }
}
