//! The bundled sample dataset. It is embedded in the binary, so an installed `mrflow-tui`
//! can run its main job anywhere; from a source checkout the file itself is used.

use std::path::{Path, PathBuf};

use crate::dirs::Dirs;

pub const SAMPLE_FILE: &str = "beverage_sales.csv";
pub const SAMPLE_ROWS: usize = 15_000;
pub const SAMPLE_SEED: u64 = 42;

const SAMPLE_BYTES: &[u8] = include_bytes!("../sample-data/beverage_sales.csv");

/// Path of the bundled sample: the checkout's copy if present, else a copy written once into
/// the data directory.
pub fn sample_path() -> Result<PathBuf, String> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data")
        .join(SAMPLE_FILE);
    if checkout.is_file() {
        return Ok(checkout);
    }
    let dirs = Dirs::resolve().map_err(|e| e.to_string())?;
    let path = dirs.data.join("sample-data").join(SAMPLE_FILE);
    if std::fs::read(&path).is_ok_and(|b| b == SAMPLE_BYTES) {
        return Ok(path);
    }
    let dir = path.parent().expect("has a parent");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create directory: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{SAMPLE_FILE}.tmp"));
    std::fs::write(&tmp, SAMPLE_BYTES)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("{}: cannot write the sample data: {e}", path.display()))?;
    Ok(path)
}
