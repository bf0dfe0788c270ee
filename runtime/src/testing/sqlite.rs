//! SQLite: the template is a migrated file in the system's temporary folder, built under a
//! file lock; each test gets a copy of it.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::template::test_database_name;
use super::{Fresh, Made, Removal, TemplateKey, TestError};
use crate::environment::Environment;

/// Where templates and test databases live: `<temp>/dbgen-test/`.
fn folder() -> PathBuf {
    std::env::temp_dir().join("dbgen-test")
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TestError {
    let path = path.to_path_buf();
    move |source| TestError::File {
        action,
        path,
        source,
    }
}

/// A copy of `key`'s template, built first if needed.
pub(super) async fn create(
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
) -> Result<Made, TestError> {
    let dir = folder();
    std::fs::create_dir_all(&dir).map_err(file_error("creating", &dir))?;
    let template = dir.join(format!("{}.sqlite3", key.name));
    if !template.is_file() {
        build(fresh, key, environment, &dir, &template).await?;
    }
    let name = test_database_name(&fresh.db.name);
    let path = dir.join(format!("{name}.sqlite3"));
    std::fs::copy(&template, &path).map_err(file_error("copying the template to", &path))?;
    Ok(Made {
        url: format!("sqlite://{}", path.display()),
        name: path.display().to_string(),
        removal: Removal::File(path),
    })
}

/// Builds the template once: threads of this process wait on a mutex, other processes on
/// a lock of the file system's, and the file appears whole (built aside, then renamed).
async fn build(
    fresh: &Fresh,
    key: &TemplateKey,
    environment: &Environment,
    dir: &Path,
    template: &Path,
) -> Result<(), TestError> {
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _building = BUILDING.lock().await;
    if template.is_file() {
        return Ok(());
    }
    let lock_path = dir.join(format!("{}.lock", key.name));
    let lock = File::create(&lock_path).map_err(file_error("creating", &lock_path))?;
    // Released when `lock` is closed, also when this process dies.
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|locked| locked)
        .map_err(file_error("locking", &lock_path))?;
    if template.is_file() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let aside = dir.join(format!("{}.{}.building", key.name, std::process::id()));
    remove(&aside);
    if let Err(e) = fresh
        .fill(environment, &format!("sqlite://{}", aside.display()))
        .await
    {
        remove(&aside);
        return Err(e);
    }
    std::fs::rename(&aside, template).map_err(file_error("renaming", &aside))?;
    super::built(&key.name, started.elapsed());
    remove_stale(dir, key);
    drop(lock);
    Ok(())
}

/// Removes this database's older templates (another checksum).
fn remove_stale(dir: &Path, key: &TemplateKey) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Templates only: another process's `.building` file or `.lock` stays.
        if name.starts_with(&key.prefix)
            && !name.starts_with(&key.name)
            && name.ends_with(".sqlite3")
        {
            remove(&entry.path());
        }
    }
}

/// Removes a database file and the journal files SQLite may have left next to it.
pub(super) fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
}
