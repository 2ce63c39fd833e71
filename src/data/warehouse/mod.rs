//! Sales data in a warehouse that speaks PostgreSQL's protocol (PostgreSQL, Citus,
//! Redshift, CockroachDB, YugabyteDB, AlloyDB, Aurora): the rows never leave the server.
//! Every tool is a sum by keys, so a flow's dataset is one `GROUP BY` the server runs
//! (`statement`), the same shape the batched file path builds (`DataProfile::grouped`); the
//! baseline's `describe()` comes from aggregate statements too (`describe`). Columns map to
//! roles exactly as a file's do. The dataset's reference is the hash of what the server
//! returned beside the source's identity, so an unchanged table reuses every cached step
//! and a changed row misses.

mod client;
mod describe;
mod source;
mod statement;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;

pub use describe::{ColumnFigures, Quartiles, TableFigures};
pub use source::{Relation, WarehouseSource, is_warehouse, quote, shown_path, source_name};

use self::client::{Connection, Failure, block_on};
use self::statement::{Decimal, Grouping, SqlKind, cents, grouping};
use super::coded::SCALE;
use super::columns::plan_columns;
use super::error::DataError;
use super::loader::{Dataset, Inspection, LoadOptions};
use super::profile::{ColumnProfile, DataProfile, Grouped, NumberStats};
use super::roles::Mapping;
use super::schema::ColumnKind;
use super::source::FileFormat;
use crate::reference::Reference;

/// A warehouse relation's columns and how they map.
struct Described {
    source: WarehouseSource,
    header: Vec<String>,
    kinds: HashMap<String, SqlKind>,
    mapping: Mapping,
    profile: DataProfile,
}

/// Loads the dataset a flow needs from the warehouse `path` names: one grouped statement.
pub(super) fn load(path: &Path, required: &[&str], options: &LoadOptions) -> Result<Dataset, DataError> {
    let source = parse(path)?;
    let at = PathBuf::from(source.identity());
    let progress = options.progress.get();
    block_on(async {
        let connection = Connection::open(&source).await.map_err(|f| failed(&at, f))?;
        let described = columns(&connection, source, options).await?;
        let (plan, unavailable) = plan(&described, required, options)?;
        let mut profile = described.profile.clone();
        profile.unavailable = unavailable;
        let grouping = grouping(
            &described.source.from_item(),
            &plan,
            &described.kinds,
            &described.header,
        )
        .map_err(|reason| DataError::Warehouse {
            path: at.clone(),
            reason: format!("{}: {reason}", described.source.relation_name()),
        })?;
        if let Some(p) = progress {
            p.set_stage(super::Stage::Querying);
        }
        let rows = connection
            .query(&described.source, &grouping.sql, progress)
            .await
            .map_err(|f| failed(&at, f))?;
        if let Some(p) = progress {
            p.set_read(connection.received());
        }
        let summed = sum_up(&at, &grouping, &rows)?;
        profile.rows = summed.rows;
        profile
            .notes
            .extend(plan.derive.iter().map(|(name, d)| format!("derived `{name}` as {d}")));
        if summed.skipped > 0 {
            profile.notes.push(format!(
                "skipped {} of {} rows with empty values in {}",
                summed.skipped,
                summed.rows,
                grouping
                    .keys
                    .iter()
                    .chain(&grouping.values)
                    .map(|o| o.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        profile.notes.push(format!(
            "summed by the server: one GROUP BY over {} rows gave {} groups ({} received)",
            crate::format::grouped(summed.rows as f64),
            crate::format::grouped(summed.frame.height() as f64),
            crate::format::bytes(connection.received())
        ));
        profile.grouped = Some(Grouped {
            rows: summed.analysed,
            numbers: summed.numbers,
        });
        // The table's reference is of its identity and totals, the same for every flow (as
        // a file's is of its bytes); the flow's sums key its results (`Dataset::sums`).
        let identity = described.source.identity();
        let totals = summed.totals.join("\u{1f}");
        let table = Reference::of_parts([
            b"warehouse-table/v1".as_slice(),
            identity.as_bytes(),
            described.header.join("\u{1f}").as_bytes(),
            summed.rows.to_string().as_bytes(),
            totals.as_bytes(),
        ]);
        let signature = [described.mapping.signature(), options.signature()].join("\u{1e}");
        let reference = Reference::of_parts([
            b"warehouse/v1".as_slice(),
            table.to_string().as_bytes(),
            signature.as_bytes(),
        ]);
        if let Some(p) = progress {
            p.set_stage(super::Stage::Done);
        }
        Ok(Dataset {
            path: at.clone(),
            frame: summed.frame,
            reference,
            file_reference: table,
            file_bytes: connection.received(),
            file_columns: described.header,
            notes: profile.notes.clone(),
            profile,
            sums: Some(Reference::of_bytes(&summed.canonical)),
        })
    })
}

/// What `mrflow-tui data postgres://…` shows: the relation's columns and roles, and what of
/// `required` it cannot give. Nothing is summed.
pub(super) fn inspect(path: &Path, required: &[&str], options: &LoadOptions) -> Result<Inspection, DataError> {
    let source = parse(path)?;
    let at = PathBuf::from(source.identity());
    block_on(async {
        let connection = Connection::open(&source).await.map_err(|f| failed(&at, f))?;
        let described = columns(&connection, source, options).await?;
        let (missing, problem, unavailable) = match plan(&described, required, options) {
            Ok((plan, unavailable)) => {
                let problem = grouping(&described.source.from_item(), &plan, &described.kinds, &[])
                    .err()
                    .map(|reason| format!("{}: {reason}", described.source.relation_name()));
                (Vec::new(), problem, unavailable)
            }
            Err(DataError::MissingColumns { missing, .. }) => (missing, None, Vec::new()),
            Err(e) => return Err(e),
        };
        let mut profile = described.profile;
        profile.unavailable = unavailable;
        let count = connection
            .query(
                &described.source,
                &format!("SELECT COUNT(*) FROM {}", described.source.from_item()),
                options.progress.get(),
            )
            .await
            .map_err(|f| failed(&profile.path, f))?;
        profile.rows = count
            .first()
            .and_then(|r| r.try_get::<_, i64>(0).ok())
            .unwrap_or_default() as usize;
        Ok(Inspection {
            profile,
            missing,
            problem,
        })
    })
}

/// The baseline's `describe(include='all')` and `head(20)` figures of the relation, from
/// aggregate statements; `progress`'s cancel stops them.
pub fn describe_table(path: &Path, progress: Option<&super::LoadProgress>) -> Result<TableFigures, DataError> {
    let source = parse(path)?;
    let at = PathBuf::from(source.identity());
    block_on(async {
        let connection = Connection::open(&source).await.map_err(|f| failed(&at, f))?;
        describe::figures(&connection, &source, progress)
            .await
            .map_err(|f| failed(&at, f))
    })
}

fn parse(path: &Path) -> Result<WarehouseSource, DataError> {
    let text = path.to_string_lossy();
    WarehouseSource::parse(&text).map_err(|reason| DataError::Warehouse {
        // Never the URL as given: it may hold the password.
        path: shown_path(path),
        reason,
    })
}

fn failed(at: &Path, failure: Failure) -> DataError {
    match failure {
        Failure::Said(reason) => DataError::Warehouse {
            path: at.to_path_buf(),
            reason,
        },
        Failure::Cancelled => DataError::Cancelled { path: at.to_path_buf() },
    }
}

/// The relation's columns and types (a statement that reads no row), mapped to roles.
async fn columns(
    connection: &Connection,
    source: WarehouseSource,
    options: &LoadOptions,
) -> Result<Described, DataError> {
    let at = PathBuf::from(source.identity());
    let statement = connection
        .prepare(&source, &format!("SELECT * FROM {} LIMIT 0", source.from_item()))
        .await
        .map_err(|f| failed(&at, f))?;
    let header: Vec<String> = statement.columns().iter().map(|c| c.name().to_string()).collect();
    let kinds: HashMap<String, SqlKind> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), SqlKind::of(c.type_())))
        .collect();
    let mapping = Mapping::resolve(&header, &options.columns).map_err(|source| DataError::Mapping {
        path: at.clone(),
        source,
    })?;
    let columns = header
        .iter()
        .map(|name| {
            let role = mapping.role_of(name);
            ColumnProfile {
                name: name.clone(),
                kind: kinds[name].label().to_string(),
                matched: role.and_then(|r| mapping.roles.get(r)).map(|(_, m)| *m),
                role: role.map(str::to_string),
            }
        })
        .collect();
    let renamed: Vec<String> = mapping
        .roles
        .iter()
        .filter(|(role, (column, _))| **role != column.as_str())
        .map(|(role, (column, _))| format!("{role} ← `{column}`"))
        .collect();
    let mut notes = Vec::new();
    if !renamed.is_empty() {
        notes.push(format!("mapped {}", renamed.join(", ")));
    }
    let profile = DataProfile {
        path: at,
        format: FileFormat::Postgres,
        encoding: None,
        delimiter: None,
        decimal: None,
        sheet: None,
        date_format: None,
        rows: 0,
        columns,
        roles: mapping
            .roles
            .iter()
            .map(|(role, (column, _))| (role.to_string(), column.clone()))
            .collect(),
        ambiguous: mapping
            .ambiguous
            .iter()
            .map(|(role, columns)| (role.to_string(), columns.clone()))
            .collect::<BTreeMap<_, _>>(),
        notes,
        grouped: None,
        unavailable: Vec::new(),
    };
    Ok(Described {
        source,
        header,
        kinds,
        mapping,
        profile,
    })
}

type Planned = (super::columns::ColumnPlan, Vec<super::profile::MissingColumn>);

fn plan(described: &Described, required: &[&str], options: &LoadOptions) -> Result<Planned, DataError> {
    plan_columns(
        &described.mapping,
        &described.header,
        required,
        &options.optional,
        &described.profile,
        &DataFrame::empty(),
    )
    .map_err(|missing| DataError::MissingColumns {
        path: described.profile.path.clone(),
        missing,
        found: described.header.join(", "),
        profile: Some(Box::new(described.profile.clone())),
    })
}

/// The grouped rows as the dataset: one row per key in key order, sums back in units.
struct Summed {
    frame: DataFrame,
    /// Rows in the relation, and those analysed (none of the flow's values empty).
    rows: usize,
    analysed: usize,
    skipped: usize,
    numbers: Vec<NumberStats>,
    /// The keys and cents of every group, in order: what the flow's results are keyed by.
    canonical: Vec<u8>,
    /// Each relation column's total over every row (`Grouping::totals`), exact.
    totals: Vec<String>,
}

/// One group the server returned: its keys, its rows, and per value its cents, least and
/// greatest.
type Group = (Vec<KeyValue>, i64, Vec<(i64, f64, f64)>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyValue {
    Int(i64),
    Text(String),
}

fn sum_up(at: &Path, grouping: &Grouping, rows: &[tokio_postgres::Row]) -> Result<Summed, DataError> {
    let bad = |what: String| DataError::Warehouse {
        path: at.to_path_buf(),
        reason: what,
    };
    let k = grouping.keys.len();
    let first_total = k + 2 + 3 * grouping.values.len();
    let mut totals = vec![Decimal::default(); grouping.totals.len()];
    let mut odd_totals = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let (mut total, mut skipped) = (0usize, 0usize);
    for row in rows {
        let count: i64 = row.try_get(k + 1).map_err(|e| bad(e.to_string()))?;
        total += count as usize;
        for (i, sum) in totals.iter_mut().enumerate() {
            let text: Option<String> = row.try_get(first_total + i).map_err(|e| bad(e.to_string()))?;
            // A total that is not a plain decimal (`NaN` of a float column) is kept as said.
            match text.as_deref().map(|t| (t, Decimal::parse(t).and_then(|d| sum.add(d)))) {
                Some((_, Some(added))) => *sum = added,
                Some((odd, None)) => odd_totals.push(format!("{}={odd}", grouping.totals[i])),
                None => {}
            }
        }
        let complete: bool = row.try_get(k).map_err(|e| bad(e.to_string()))?;
        if !complete {
            skipped += count as usize;
            continue;
        }
        let mut keys = Vec::with_capacity(k);
        for (i, key) in grouping.keys.iter().enumerate() {
            keys.push(match key.kind {
                ColumnKind::Integer => KeyValue::Int(row.try_get(i).map_err(|e| bad(e.to_string()))?),
                _ => KeyValue::Text(row.try_get(i).map_err(|e| bad(e.to_string()))?),
            });
        }
        let mut values = Vec::with_capacity(grouping.values.len());
        for (j, value) in grouping.values.iter().enumerate() {
            let at = k + 2 + 3 * j;
            let sum: String = row.try_get(at).map_err(|e| bad(e.to_string()))?;
            let sum = cents(&sum).ok_or_else(|| bad(format!("`{}` sums to `{sum}`, not a number", value.name)))?;
            let min: f64 = row.try_get(at + 1).map_err(|e| bad(e.to_string()))?;
            let max: f64 = row.try_get(at + 2).map_err(|e| bad(e.to_string()))?;
            values.push((sum, min, max));
        }
        groups.push((keys, count, values));
    }
    if total == 0 {
        return Err(DataError::NoRows { path: at.to_path_buf() });
    }
    groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let analysed: i64 = groups.iter().map(|g| g.1).sum();
    if analysed == 0 {
        return Err(DataError::NoRows { path: at.to_path_buf() });
    }
    let mut canonical = Vec::new();
    for (keys, count, values) in &groups {
        for key in keys {
            match key {
                KeyValue::Int(i) => canonical.extend_from_slice(&i.to_le_bytes()),
                KeyValue::Text(t) => canonical.extend_from_slice(t.as_bytes()),
            }
            canonical.push(0x1f);
        }
        canonical.extend_from_slice(&count.to_le_bytes());
        for (cents, _, _) in values {
            canonical.extend_from_slice(&cents.to_le_bytes());
        }
        canonical.push(0x1e);
    }
    let mut columns = Vec::new();
    let mut numbers = Vec::new();
    for (i, key) in grouping.keys.iter().enumerate() {
        let name = PlSmallStr::from(key.name.as_str());
        match key.kind {
            ColumnKind::Integer => {
                let values: Vec<i64> = groups
                    .iter()
                    .map(|g| match &g.0[i] {
                        KeyValue::Int(v) => *v,
                        KeyValue::Text(_) => 0,
                    })
                    .collect();
                let mut stats = NumberStats::new(&key.name);
                for (v, g) in values.iter().zip(&groups) {
                    stats.merge(&NumberStats {
                        name: key.name.clone(),
                        count: g.1 as usize,
                        min: Some(*v as f64),
                        max: Some(*v as f64),
                        sum: *v as f64 * g.1 as f64,
                    });
                }
                numbers.push(stats);
                columns.push(Column::new(name, values));
            }
            _ => {
                let values: Vec<&str> = groups
                    .iter()
                    .map(|g| match &g.0[i] {
                        KeyValue::Text(t) => t.as_str(),
                        KeyValue::Int(_) => "",
                    })
                    .collect();
                columns.push(Column::new(name, values));
            }
        }
    }
    for (j, value) in grouping.values.iter().enumerate() {
        let units: Vec<f64> = groups.iter().map(|g| g.2[j].0 as f64 / SCALE).collect();
        let mut stats = NumberStats::new(&value.name);
        for g in &groups {
            stats.merge(&NumberStats {
                name: value.name.clone(),
                count: g.1 as usize,
                min: Some(g.2[j].1),
                max: Some(g.2[j].2),
                sum: 0.0,
            });
        }
        stats.sum = units.iter().sum();
        numbers.push(stats);
        columns.push(Column::new(PlSmallStr::from(value.name.as_str()), units));
    }
    // In the plan's order, as a file's frame is narrowed (and its figures listed).
    let position = |name: &str| grouping.order.iter().position(|o| o == name);
    columns.sort_by_key(|c| position(c.name()));
    numbers.sort_by_key(|n| position(&n.name));
    let frame = DataFrame::new(groups.len(), columns).map_err(|e| bad(e.to_string()))?;
    Ok(Summed {
        frame,
        rows: total,
        analysed: analysed as usize,
        skipped,
        numbers,
        canonical,
        totals: totals.iter().map(Decimal::to_string).chain(odd_totals).collect(),
    })
}
