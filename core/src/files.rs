//! Listing folders and reading scripts: the only file system access of the loader.
//!
//! A thousand small scripts cost more in system calls than in anything else, so this
//! module keeps them few: one listing per folder, and `open`, `read`, `read`, `close` per
//! script, spread over the cores.
//!
//! Every file dbgen reads is under one rule ([`resolve`]): it is a regular file, or a folder,
//! inside the project. A symlink is followed only to a target inside the project (a linked
//! folder `database/b/migrations -> ../a/migrations` works); FIFOs, sockets and devices are
//! refused by name and never opened. The type of a listed entry comes with the listing, so
//! the rule costs no system call for a plain file; only a symlink is resolved.

use std::borrow::Cow;
use std::fs::{File, FileType};
use std::io::{ErrorKind, Read};
use std::path::{Component, Path, PathBuf};

use crate::Error;
use crate::config::display_path;

/// The project being read: its root as given (messages show paths relative to it) and as
/// the file system resolves it (every file read must resolve inside it).
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub root: PathBuf,
    pub real: PathBuf,
}

impl Tree {
    /// The project at `root`. A root that does not exist yet holds nothing to read, so it
    /// stands for itself.
    pub(crate) fn new(root: &Path) -> Self {
        let real = std::fs::canonicalize(root).unwrap_or_else(|_| {
            normalize_path(&std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()))
        });
        Self {
            root: root.to_path_buf(),
            real,
        }
    }

    /// `path` as messages show it: relative to the root where it is below it.
    pub(crate) fn shown(&self, path: &Path) -> PathBuf {
        display_path(&self.root, path)
    }
}

/// What an entry of a folder is to dbgen, under the rule of [`resolve`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A regular file inside the project, maybe through a symlink.
    File,
    /// A folder inside the project, maybe through a symlink.
    Dir,
    /// Anything else, never opened: why, and what to do.
    Refused(String),
}

/// What a path that passes the rule leads to.
enum Resolved {
    /// A regular file; `Some(target)` when reached through a symlink: open the target.
    File(Option<PathBuf>),
    Dir,
}

/// The one rule for every file and folder dbgen reads: `path`, whose own type (a symlink not
/// followed) is `own`, must be a regular file or a folder inside the project (`real_root`,
/// resolved). A symlink is resolved and its target must stay inside the project; FIFOs,
/// sockets and devices are refused, also behind a symlink, without being opened. `Err` is the
/// reason it is refused and what to do.
fn resolve(real_root: &Path, path: &Path, own: FileType) -> Result<Resolved, String> {
    if own.is_file() {
        return Ok(Resolved::File(None));
    }
    if own.is_dir() {
        return Ok(Resolved::Dir);
    }
    if !own.is_symlink() {
        return Err(format!("it is {}{NOT_READ}", what_it_is(own)));
    }
    let target = std::fs::canonicalize(path).map_err(|e| {
        let link = std::fs::read_link(path).unwrap_or_default();
        format!(
            "it is a symbolic link to {}, which cannot be followed ({e}): point it at a file inside the project, or replace it with the file",
            link.display()
        )
    })?;
    if !target.starts_with(real_root) {
        // `stat`, not `open`: only to say "file" or "folder".
        let what = match std::fs::metadata(&target) {
            Ok(m) if m.is_dir() => {
                "copy its files into the project instead of linking to the folder"
            }
            _ => "copy the file into the project instead of linking to it",
        };
        return Err(format!(
            "it is a symbolic link that points outside the project, at {}, and dbgen reads only files inside the project: {what}",
            target.display()
        ));
    }
    // The target has no symlink left in it, so this is its own type.
    let target_type = std::fs::symlink_metadata(&target)
        .map_err(|e| {
            format!(
                "it is a symbolic link to {}, which cannot be read ({e})",
                target.display()
            )
        })?
        .file_type();
    if target_type.is_file() {
        Ok(Resolved::File(Some(target)))
    } else if target_type.is_dir() {
        Ok(Resolved::Dir)
    } else {
        Err(format!(
            "it is a symbolic link to {}, which is {}{NOT_READ}",
            target.display(),
            what_it_is(target_type)
        ))
    }
}

/// The end of the reason a FIFO, socket or device is refused.
const NOT_READ: &str = ", and dbgen reads only regular files (it was not opened): replace it with a regular file or remove it";

/// What an entry that is neither a regular file, a folder nor a symlink is.
fn what_it_is(own: FileType) -> &'static str {
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if own.is_fifo() {
            "a named pipe (FIFO)"
        } else if own.is_socket() {
            "a socket"
        } else if own.is_char_device() || own.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        }
    };
    #[cfg(not(unix))]
    let what = {
        let _ = own;
        "not a regular file"
    };
    what
}

/// Calls `each` with the name of every entry of `dir` but dotfiles and what it is (see
/// [`resolve`]), in the file system's order; a missing folder has no entries. A folder
/// that resolves outside the project is an error.
pub(crate) fn for_each_entry(
    tree: &Tree,
    dir: &Path,
    mut each: impl FnMut(&str, Kind) -> Result<(), Error>,
) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: tree.shown(dir),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    // Once per folder: it, or a folder above it, may be a symlink.
    let real_dir = std::fs::canonicalize(dir).map_err(io)?;
    if !real_dir.starts_with(&tree.real) {
        return Err(Error::BadFile {
            path: tree.shown(dir),
            reason: format!(
                "this folder resolves outside the project, to {}, through a symbolic link, and dbgen reads only files inside the project: copy its files into the project instead of linking to them",
                real_dir.display()
            ),
        });
    }
    for entry in entries {
        let entry = entry.map_err(io)?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            return Err(Error::BadFile {
                path: tree.shown(&entry.path()),
                reason: "the file name is not valid UTF-8: rename it".to_string(),
            });
        };
        if !name.starts_with('.') {
            // The entry's type comes with the listing; only a symlink costs system calls.
            let path = entry.path();
            let own = match entry.file_type() {
                Ok(own) => own,
                Err(_) => std::fs::symlink_metadata(&path)
                    .map_err(|source| Error::Io {
                        path: tree.shown(&path),
                        source,
                    })?
                    .file_type(),
            };
            let kind = match resolve(&tree.real, &path, own) {
                Ok(Resolved::File(_)) => Kind::File,
                Ok(Resolved::Dir) => Kind::Dir,
                Err(reason) => Kind::Refused(reason),
            };
            each(name, kind)?;
        }
    }
    Ok(())
}

/// The entries of `dir` sorted by name, without dotfiles; a missing folder is empty.
pub(crate) fn sorted_entries(tree: &Tree, dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for_each_entry(tree, dir, |name, kind| {
        out.push(Entry {
            name: name.to_string(),
            kind,
        });
        Ok(())
    })?;
    out.sort();
    Ok(out)
}

/// Reads the file of each of `items` (at `path_of(item)`) and hands its text to `visit`, on
/// several threads when there are enough files to pay off. Nothing read is kept. The files
/// were listed by [`for_each_entry`] as [`Kind::File`].
pub(crate) fn visit_scripts<T: Send>(
    tree: &Tree,
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
            let text = buffer.read(&tree.real, &path, Seen::Listed, || tree.shown(&path))?;
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

/// One entry of a folder: its name only, so that a listing of 20,000 files does not hold
/// 20,000 full paths.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub name: String,
    pub kind: Kind,
}

/// Whether a file's type is known before it is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A listing showed it as [`Kind::File`]: opened at once (a symlink among them costs a
    /// failed open, then goes through [`resolve`]).
    Listed,
    /// Not seen: its type is looked up (`lstat`) and checked before it is opened.
    Unseen,
}

/// Reads one script that messages call `shown`, under the rule of [`resolve`] for the
/// project resolved at `real_root`.
pub(crate) fn read_text(
    real_root: &Path,
    shown: &str,
    path: &Path,
    seen: Seen,
) -> Result<String, Error> {
    ScriptBuffer::new()
        .read(real_root, path, seen, || PathBuf::from(shown))
        .map(str::to_owned)
}

/// Opens `path` for reading without following a symlink at its end and without waiting on a
/// FIFO: what was checked is what is read, even if the file was swapped meanwhile.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Opens the script at `path` under the rule of [`resolve`].
fn open_script(
    real_root: &Path,
    path: &Path,
    seen: Seen,
    shown: &impl Fn() -> PathBuf,
) -> Result<File, Error> {
    let io = |source| Error::Io {
        path: shown(),
        source,
    };
    if seen == Seen::Listed
        && let Ok(file) = open_no_follow(path)
    {
        return Ok(file);
    }
    let own = std::fs::symlink_metadata(path).map_err(io)?.file_type();
    match resolve(real_root, path, own) {
        Ok(Resolved::File(target)) => open_no_follow(target.as_deref().unwrap_or(path)).map_err(io),
        Ok(Resolved::Dir) => Err(io(ErrorKind::IsADirectory.into())),
        Err(reason) => Err(Error::BadFile {
            path: shown(),
            reason,
        }),
    }
}

/// A buffer reused across the scripts one thread reads.
struct ScriptBuffer(Vec<u8>);

impl ScriptBuffer {
    fn new() -> Self {
        Self(vec![0; 16 * 1024])
    }

    /// Reads until end of file into the buffer. (`fs::read` would `stat` each file for its
    /// size first: one system call in five.) `shown` names the file in errors.
    fn read(
        &mut self,
        real_root: &Path,
        path: &Path,
        seen: Seen,
        shown: impl Fn() -> PathBuf,
    ) -> Result<&str, Error> {
        let io = |source| Error::Io {
            path: shown(),
            source,
        };
        let mut file = open_script(real_root, path, seen, &shown)?;
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
            &Tree::new(dir.path()),
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
        let tree = Tree::new(dir.path());
        let mut items = ["bad.sql"];
        let err = visit_scripts(&tree, &mut items, |n| dir.path().join(n), |_, _| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("bad.sql") && err.to_string().contains("UTF-8"),
            "{err}"
        );
        let mut items = ["gone.sql"];
        let err = visit_scripts(&tree, &mut items, |n| dir.path().join(n), |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("gone.sql"), "{err}");
        let err = read_text(
            &tree.real,
            "shown/bad.sql",
            &dir.path().join("bad.sql"),
            Seen::Unseen,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("shown/bad.sql"), "{err}");
    }
}
