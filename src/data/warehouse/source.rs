//! Where a warehouse's data is: `postgres://USER@HOST:PORT/DB?table=NAME` (or
//! `?query=SELECT …`), read into a connection config, and its identity without the password.

use std::path::Path;
use std::str::FromStr;

/// The schemes a warehouse URL starts with.
const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// Whether `--data` names a warehouse rather than a file.
pub fn is_warehouse(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|s| SCHEMES.iter().any(|scheme| s.starts_with(scheme)))
}

/// A data source as it may be shown or kept: a warehouse URL without its password (its
/// identity), a file's path as given.
pub fn shown_path(path: &Path) -> std::path::PathBuf {
    if is_warehouse(path) {
        return match WarehouseSource::parse(&path.to_string_lossy()) {
            Ok(source) => source.identity().into(),
            // Unreadable as a URL: only the part after the credentials.
            Err(_) => {
                let text = path.to_string_lossy();
                format!("postgres://…@{}", text.rsplit('@').next().unwrap_or_default()).into()
            }
        };
    }
    path.to_path_buf()
}

/// The name a data source is shown by: a file's name, or a warehouse's table (`query` for
/// a query); the whole path when it has no name.
pub fn source_name(path: &Path) -> String {
    if is_warehouse(path) {
        return match WarehouseSource::parse(&path.to_string_lossy()).map(|s| s.relation) {
            Ok(Relation::Table { schema: Some(s), name }) => format!("{s}.{name}"),
            Ok(Relation::Table { schema: None, name }) => name,
            _ => "query".into(),
        };
    }
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// What the flow reads: a table (optionally `schema.table`) or the analyst's own query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Table { schema: Option<String>, name: String },
    Query(String),
}

/// A warehouse table or query and how to reach it. The password lives only in `config`;
/// everything shown or hashed uses [`WarehouseSource::identity`].
#[derive(Clone)]
pub struct WarehouseSource {
    pub config: tokio_postgres::Config,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub relation: Relation,
}

impl std::fmt::Debug for WarehouseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.identity())
    }
}

impl WarehouseSource {
    /// Reads a warehouse URL. The password comes from the URL or `PGPASSWORD`; the user from
    /// the URL, `PGUSER` or the login name; the port from the URL, `PGPORT` or 5432.
    pub fn parse(text: &str) -> Result<WarehouseSource, String> {
        let scheme = SCHEMES
            .iter()
            .find(|s| text.starts_with(**s))
            .ok_or("a warehouse URL starts with postgres:// or postgresql://")?;
        let rest = &text[scheme.len()..];
        let (base, params) = rest.split_once('?').unwrap_or((rest, ""));
        let mut relation = None;
        let mut passed = Vec::new();
        for pair in params.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| format!("`{key}` is not valid percent-encoding"))?;
            match key {
                "table" => relation = Some(table(&value)?),
                "query" => relation = Some(Relation::Query(value.trim().trim_end_matches(';').to_string())),
                _ => passed.push(pair),
            }
        }
        let relation = relation
            .ok_or("name what to read: add ?table=NAME (or ?table=SCHEMA.NAME, or ?query=SELECT … percent-encoded)")?;
        if let Relation::Query(q) = &relation
            && q.is_empty()
        {
            return Err("?query= is empty".into());
        }
        let url = if passed.is_empty() {
            format!("postgresql://{base}")
        } else {
            format!("postgresql://{base}?{}", passed.join("&"))
        };
        // tokio-postgres reads the rest (percent-decoding, sslmode and its other settings);
        // its messages never quote the password.
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| {
            let keys: Vec<&str> = passed.iter().map(|p| p.split('=').next().unwrap_or(p)).collect();
            if keys.is_empty() {
                e.to_string()
            } else {
                format!(
                    "{e}: besides table= and query=, the URL takes libpq's settings (sslmode=require, \
                     connect_timeout=10, …); given: {}",
                    keys.join(", ")
                )
            }
        })?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            None => "localhost".to_string(),
            #[allow(unreachable_patterns)]
            Some(_) => return Err("only a TCP host is supported (not a Unix socket directory)".into()),
        };
        let port = match config.get_ports().first() {
            Some(p) => *p,
            None => std::env::var("PGPORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432),
        };
        let user = match config.get_user() {
            Some(u) => u.to_string(),
            None => std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .map_err(|_| "no user: add USER@ before the host (or set PGUSER)".to_string())?,
        };
        config.user(&user);
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        config.dbname(&dbname);
        config.application_name("mrflow-tui");
        Ok(WarehouseSource {
            config,
            host,
            port,
            user,
            dbname,
            relation,
        })
    }

    /// The source as a URL without the password: what messages show, what the history and
    /// memory record, and part of the dataset's reference.
    pub fn identity(&self) -> String {
        let what = match &self.relation {
            Relation::Table { schema: Some(s), name } => format!("table={s}.{name}"),
            Relation::Table { schema: None, name } => format!("table={name}"),
            Relation::Query(q) => format!("query={}", q.split_whitespace().collect::<Vec<_>>().join(" ")),
        };
        format!(
            "postgres://{}@{}:{}/{}?{what}",
            self.user, self.host, self.port, self.dbname
        )
    }

    /// What messages call the relation: `table sales` or `the query`.
    pub fn relation_name(&self) -> String {
        match &self.relation {
            Relation::Table { schema: Some(s), name } => format!("table {s}.{name}"),
            Relation::Table { schema: None, name } => format!("table {name}"),
            Relation::Query(_) => "the query".into(),
        }
    }

    /// The relation as a FROM item, every identifier quoted.
    pub fn from_item(&self) -> String {
        match &self.relation {
            Relation::Table { schema: Some(s), name } => format!("{}.{} AS src", quote(s), quote(name)),
            Relation::Table { schema: None, name } => format!("{} AS src", quote(name)),
            Relation::Query(q) => format!("({q}) AS src"),
        }
    }
}

/// `SCHEMA.NAME` or `NAME`; a name that holds a dot is written in double quotes.
fn table(value: &str) -> Result<Relation, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("?table= is empty".into());
    }
    if let Some(quoted) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return Ok(Relation::Table {
            schema: None,
            name: quoted.to_string(),
        });
    }
    Ok(match value.split_once('.') {
        Some((schema, name)) => Relation::Table {
            schema: Some(schema.to_string()),
            name: name.to_string(),
        },
        None => Relation::Table {
            schema: None,
            name: value.to_string(),
        },
    })
}

/// An identifier in double quotes, as every engine of the protocol reads one.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `%XX` escapes and `+` as a space, as a URL's query is written.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_url_reads_host_port_user_and_database_and_never_shows_the_password() {
        let s = WarehouseSource::parse("postgres://ana:s3cret@db.example.com:6543/sales?table=public.orders").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str()),
            ("db.example.com", 6543, "ana")
        );
        assert_eq!(s.dbname, "sales");
        assert_eq!(s.config.get_password(), Some(b"s3cret".as_slice()));
        assert_eq!(
            s.identity(),
            "postgres://ana@db.example.com:6543/sales?table=public.orders"
        );
        assert!(!format!("{s:?}").contains("s3cret"));
        assert_eq!(s.from_item(), "\"public\".\"orders\" AS src");
    }

    #[test]
    fn a_query_is_percent_decoded_and_kept_as_a_subquery() {
        let s = WarehouseSource::parse(
            "postgresql://ana@localhost/db?query=SELECT%20*%20FROM%20sales%20WHERE%20region%3D%27EU%27;&sslmode=disable",
        )
        .unwrap();
        assert_eq!(
            s.relation,
            Relation::Query("SELECT * FROM sales WHERE region='EU'".into())
        );
        assert_eq!(s.from_item(), "(SELECT * FROM sales WHERE region='EU') AS src");
        assert_eq!(s.config.get_ssl_mode(), tokio_postgres::config::SslMode::Disable);
    }

    #[test]
    fn a_url_without_a_table_or_with_an_unknown_setting_says_what_to_add() {
        let e = WarehouseSource::parse("postgres://ana@localhost/db").unwrap_err();
        assert!(e.contains("?table=NAME"), "{e}");
        let e = WarehouseSource::parse("postgres://ana@localhost/db?table=t&colour=blue").unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote("Order \"Date\""), "\"Order \"\"Date\"\"\"");
        assert!(is_warehouse(Path::new("postgres://x@y/z?table=t")));
        assert!(!is_warehouse(Path::new("sales.csv")));
    }
}
