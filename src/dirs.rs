//! Where mrflow keeps its files: the platform's config, cache and data directories, each
//! overridable by an environment variable (tests point them at temporary directories).

use std::path::PathBuf;

use directories::ProjectDirs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    pub config: PathBuf,
    pub cache: PathBuf,
    pub data: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot find a home directory for mrflow's {what} files; set {var} to a directory")]
pub struct DirsError {
    what: &'static str,
    var: &'static str,
}

impl Dirs {
    /// `MRFLOW_CONFIG_DIR`, `MRFLOW_CACHE_DIR` and `MRFLOW_DATA_DIR` win over the platform's
    /// directories.
    pub fn resolve() -> Result<Dirs, DirsError> {
        let project = ProjectDirs::from("dev", "mrflow", "mrflow-tui");
        let pick =
            |var: &'static str, what: &'static str, platform: fn(&ProjectDirs) -> PathBuf| match std::env::var_os(var)
                .filter(|v| !v.is_empty())
            {
                Some(v) => Ok(PathBuf::from(v)),
                None => project.as_ref().map(platform).ok_or(DirsError { what, var }),
            };
        Ok(Dirs {
            config: pick("MRFLOW_CONFIG_DIR", "config", |p| p.config_dir().to_path_buf())?,
            cache: pick("MRFLOW_CACHE_DIR", "cache", |p| p.cache_dir().to_path_buf())?,
            data: pick("MRFLOW_DATA_DIR", "data", |p| p.data_dir().to_path_buf())?,
        })
    }
}
