//! Files only the user can read: the cache, the run history and exports may hold business
//! figures.

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Creates (or truncates) `path` for writing, readable and writable by the user alone.
pub fn create(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `bytes` to `path` as a file only the user can read.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = create(path)?;
    file.write_all(bytes.as_ref())?;
    file.sync_all()
}
