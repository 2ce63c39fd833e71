//! How any front end, or a library user, gets a [`Session`]: from a layered config, with
//! everything it does not say taken as `mrflow-tui run` takes it (the built-in
//! `roi_analysis`, the bundled sample, the config's model, analyst and memory store).
//!
//! ```no_run
//! use mrflow::config::Config;
//! use mrflow::session::Session;
//!
//! let session = Session::builder(Config::default_only())
//!     .data("sales.csv")
//!     .build()?;
//! let dataset = session.load_dataset(Default::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::data::LoadOptions;
use crate::data::dates::DateFormat;
use crate::data::roles::ExplicitColumn;
use crate::dirs::Dirs;
use crate::flow::Flow;
use crate::llm::Analyst;
use crate::memory::Memory;

use super::{Session, SessionParts};

/// Why a session could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Something the caller gave is wrong: the flow, the model's analyst, the mapping.
    #[error("{0}")]
    Input(String),
    /// The bundled sample, the default data, could not be written out.
    #[error("{0}")]
    Sample(String),
}

/// What the caller says of the data's mapping, over config.toml's `[data]` and the flow's
/// `[data]` table: the command line's `--column`, `--date-format` and `--sheet`.
#[derive(Debug, Clone, Default)]
pub struct MappingOverrides {
    /// Role → column, each winning over config's and the flow's.
    pub columns: Vec<(String, String)>,
    /// How dates are written when the values do not tell (`dmy`, `%d.%m.%Y`).
    pub date_format: Option<String>,
    /// The sheet of a workbook.
    pub sheet: Option<String>,
}

impl MappingOverrides {
    /// The mapping from its three layers: config.toml's `[data]`, the flow's `[data]`, then
    /// these (each later one wins). Every column keeps where it came from, for errors.
    pub fn load_options(&self, config: &Config, flow: &Flow) -> Result<LoadOptions, SessionError> {
        let layers = [
            ("config.toml [data.columns]", &config.data.columns),
            ("the flow's [data.columns]", &flow.def.data.columns),
        ];
        let mut columns: Vec<ExplicitColumn> = layers
            .into_iter()
            .flat_map(|(origin, table)| {
                table.iter().map(move |(role, column)| ExplicitColumn {
                    role: role.clone(),
                    column: column.clone(),
                    origin: origin.to_string(),
                })
            })
            .collect();
        columns.extend(self.columns.iter().map(|(role, column)| ExplicitColumn {
            role: role.clone(),
            column: column.clone(),
            origin: "--column".to_string(),
        }));
        let date_format = [
            ("--date-format", self.date_format.as_ref()),
            ("the flow's [data] date_format", flow.def.data.date_format.as_ref()),
            ("config.toml [data] date_format", config.data.date_format.as_ref()),
        ]
        .into_iter()
        .find_map(|(origin, f)| f.map(|f| (origin, f)))
        .map(|(origin, f)| DateFormat::parse_setting(f).map_err(|e| SessionError::Input(format!("{origin}: {e}"))))
        .transpose()?;
        Ok(LoadOptions {
            columns,
            date_format,
            sheet: self.sheet.clone().or_else(|| config.data.sheet.clone()),
            ..LoadOptions::default()
        })
    }
}

/// A [`Session`] being described; [`SessionBuilder::build`] assembles it.
pub struct SessionBuilder {
    config: Config,
    dirs: Option<Dirs>,
    flow: Option<Arc<Flow>>,
    data: Option<PathBuf>,
    model: Option<String>,
    mapping: MappingOverrides,
    analyst: Option<Arc<dyn Analyst>>,
    memory: Option<Option<Arc<Memory>>>,
    persist: bool,
}

impl Session {
    /// A session from `config` (already layered: defaults, config.toml, environment, flags).
    pub fn builder(config: Config) -> SessionBuilder {
        SessionBuilder {
            config,
            dirs: None,
            flow: None,
            data: None,
            model: None,
            mapping: MappingOverrides::default(),
            analyst: None,
            memory: None,
            persist: true,
        }
    }
}

impl SessionBuilder {
    /// Where the cache, the memory store and the run history live; without them, results
    /// and runs stay in this process.
    pub fn dirs(mut self, dirs: Option<Dirs>) -> Self {
        self.dirs = dirs;
        self
    }

    /// The flow to run [default: the built-in `roi_analysis`].
    pub fn flow(mut self, flow: Arc<Flow>) -> Self {
        self.flow = Some(flow);
        self
    }

    /// The data: a file, or a warehouse URL [default: the bundled sample].
    pub fn data(mut self, data: impl Into<PathBuf>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// The model whose encoding counts tokens and whose prices cost runs [default: the
    /// config's].
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The caller's word on the data's mapping, over config's and the flow's.
    pub fn mapping(mut self, mapping: MappingOverrides) -> Self {
        self.mapping = mapping;
        self
    }

    /// Who writes the answers [default: the config's `[llm]` backend for the model].
    pub fn analyst(mut self, analyst: Arc<dyn Analyst>) -> Self {
        self.analyst = Some(analyst);
        self
    }

    /// Long-term memory, or none [default: the config's `[memory]` store; a store that
    /// cannot be opened is a warning, and the session runs without memory].
    pub fn memory(mut self, memory: Option<Arc<Memory>>) -> Self {
        self.memory = Some(memory);
        self
    }

    /// Whether results and parsed data persist in the cache directory [default: yes,
    /// when there are directories].
    pub fn persist(mut self, persist: bool) -> Self {
        self.persist = persist;
        self
    }

    /// The session. What it should say before a run (no price for the model, memory that
    /// could not open) is in [`Session::take_warnings`].
    pub fn build(self) -> Result<Session, SessionError> {
        let SessionBuilder {
            config,
            dirs,
            flow,
            data,
            model,
            mapping,
            analyst,
            memory,
            persist,
        } = self;
        let flow = match flow {
            Some(f) => f,
            None => Arc::new(Flow::builtin("roi_analysis").expect("roi_analysis is built in")),
        };
        let data = match data {
            Some(d) => d,
            None => crate::sample::sample_path().map_err(SessionError::Sample)?,
        };
        let model = model.unwrap_or_else(|| config.model.clone());
        let analyst = match analyst {
            Some(a) => a,
            None => crate::llm::from_config(&config, &model).map_err(|e| SessionError::Input(e.to_string()))?,
        };
        let load = mapping.load_options(&config, &flow)?;
        let mut warnings = Vec::new();
        if config.price(&model).is_none() {
            warnings.push(format!(
                "no price for model `{model}` in the model table (`mrflow-tui models`): costs are shown as n/a \
                 (add \"{model}\" = {{ input = …, cached_input = …, output = … }} under [pricing] in config.toml)"
            ));
        }
        let memory = match memory {
            Some(m) => m,
            None => match Memory::open_configured(&config, dirs.as_ref()) {
                Ok(m) => m.map(Arc::new),
                Err(e) => {
                    // Memory is an aid, never a reason not to run.
                    warnings.push(format!("{e}; running without long-term memory"));
                    None
                }
            },
        };
        let session = Session::new(SessionParts {
            flow,
            data,
            load,
            model,
            config,
            dirs,
            analyst,
            memory,
            persist,
        });
        session.own_warnings().extend(warnings);
        Ok(session)
    }
}
