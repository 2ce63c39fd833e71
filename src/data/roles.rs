//! Roles, not column names: which column of someone else's export is revenue, which is the
//! date, which is the brand. A file is mapped to roles automatically (names compared without
//! case, spaces or punctuation, plus a table of the names common exports use) and explicitly
//! (`--column ROLE=COLUMN`, `[data.columns]`); explicit beats automatic, and a role with two
//! automatic candidates is reported, never guessed.

use std::collections::BTreeMap;

use super::schema::{KNOWN_COLUMNS, column_spec};

/// Dimension roles: text columns the tools group by.
pub const DIMENSION_ROLES: [&str; 5] = ["brand", "category", "region", "country", "store_id"];

/// Names common exports give each role, compared in [`normalize`]d form. The role's own
/// name is always a match and beats these.
const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "sale_date",
        &[
            "date",
            "orderdate",
            "saledate",
            "salesdate",
            "transactiondate",
            "invoicedate",
            "purchasedate",
            "txndate",
            "documentdate",
        ],
    ),
    ("year", &["yr", "orderyear", "salesyear", "fiscalyear"]),
    ("month", &["mon", "monthname", "ordermonth", "salesmonth"]),
    ("quarter", &["qtr", "orderquarter", "salesquarter", "fiscalquarter"]),
    (
        "units_sold",
        &[
            "quantity",
            "qty",
            "units",
            "unitsold",
            "quantitysold",
            "qtysold",
            "itemssold",
            "orderquantity",
            "volumeunits",
            "quantityordered",
            "qtyordered",
            "unitsordered",
            "orderqty",
            "quantityshipped",
            "qtyshipped",
        ],
    ),
    (
        "price_per_unit",
        &[
            "price",
            "unitprice",
            "sellingprice",
            "saleprice",
            "priceeach",
            "avgprice",
        ],
    ),
    (
        "total_revenue",
        &[
            "sales",
            "revenue",
            "amount",
            "totalsales",
            "salesamount",
            "netsales",
            "salesvalue",
            "turnover",
            "totalamount",
            "linetotal",
            "grosssales",
            "netrevenue",
            "grossrevenue",
            "totalsalesamount",
            "extendedprice",
            "extendedamount",
            "invoiceamount",
            "ordertotal",
            "salestotal",
        ],
    ),
    ("cost_per_unit", &["unitcost", "costeach", "cogsperunit"]),
    (
        "total_cost",
        &["cost", "cogs", "costofgoodssold", "costofsales", "totalcogs"],
    ),
    (
        "profit",
        &[
            "grossprofit",
            "netprofit",
            "totalprofit",
            "profitamount",
            "operatingprofit",
            "operatingincome",
            "profitloss",
            "netprofitloss",
        ],
    ),
    (
        "profit_margin",
        &[
            "marginpct",
            "profitmarginpct",
            "profitpct",
            "marginpercent",
            "grossmarginpct",
            "operatingmargin",
            "operatingmarginpct",
            "netmarginpct",
        ],
    ),
    ("brand", &["brandname", "make"]),
    (
        "category",
        &["productcategory", "categoryname", "productgroup", "productline"],
    ),
    ("region", &["salesregion", "territory", "regionname"]),
    ("country", &["countryregion", "countryname", "nation"]),
    (
        "store_id",
        &[
            "store",
            "storeno",
            "storecode",
            "storenumber",
            "storename",
            "shop",
            "shopid",
            "outlet",
            "outletid",
            "branch",
        ],
    ),
];

/// Columns that often stand for a dimension role the file lacks: offered first as
/// candidates, never taken automatically.
const DIMENSION_CANDIDATES: &[(&str, &[&str])] = &[
    (
        "brand",
        &[
            "product",
            "productname",
            "sku",
            "item",
            "itemname",
            "subcategory",
            "manufacturer",
            "vendor",
            "supplier",
        ],
    ),
    (
        "category",
        &["subcategory", "department", "segment", "type", "producttype"],
    ),
    ("region", &["state", "province", "area", "city", "market", "zone"]),
    ("country", &["countrycode", "market"]),
    ("store_id", &["location", "channel", "storetype"]),
];

/// A name as compared: lower case, `%` read as "pct", everything but letters and digits
/// dropped (`Total Revenue`, `TOTAL_REVENUE` and `total-revenue` are one name).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '%' {
            out.push_str("pct");
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether `name` is a role mrflow knows.
pub fn is_role(name: &str) -> bool {
    column_spec(name).is_some()
}

/// Every role, in schema order.
pub fn roles() -> impl Iterator<Item = &'static str> {
    KNOWN_COLUMNS.iter().map(|c| c.name)
}

/// The role a flow's dimension name stands for (`Brand`, `store`, `store_id`), if any.
pub fn dimension_role(name: &str) -> Option<&'static str> {
    let n = normalize(name);
    if n == "store" || n == "storeid" {
        return Some("store_id");
    }
    DIMENSION_ROLES.iter().copied().find(|r| normalize(r) == n)
}

/// Where a role's column came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// `--column`, `[data.columns]` in config or flow.
    Explicit,
    /// The role's own name, ignoring case and punctuation.
    Name,
    /// A common export's name for the role.
    Synonym,
}

/// How a file's columns map to roles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// role → (file column, how it was matched).
    pub roles: BTreeMap<&'static str, (String, MatchKind)>,
    /// Roles with more than one automatic candidate: left unmapped, reported.
    pub ambiguous: BTreeMap<&'static str, Vec<String>>,
}

/// A mapping that cannot be applied: an unknown role or a column the file lacks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    #[error("unknown role `{role}` in {origin}; roles are: {}", roles().collect::<Vec<_>>().join(", "))]
    UnknownRole { role: String, origin: String },
    #[error("{origin} maps `{role}` to `{column}`, which is not a column of the file; its columns are: {found}")]
    NoSuchColumn {
        role: String,
        column: String,
        origin: String,
        found: String,
    },
}

/// An explicit `ROLE=COLUMN`, with where it was written for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitColumn {
    pub role: String,
    pub column: String,
    /// `--column`, `config.toml [data.columns]`, `flow file [data.columns]`.
    pub origin: String,
}

/// Finds `wanted` among `header`: exactly, else the one column with the same normalized name.
pub fn find_column<'h>(header: &'h [String], wanted: &str) -> Option<&'h str> {
    if let Some(h) = header.iter().find(|h| *h == wanted) {
        return Some(h);
    }
    let n = normalize(wanted);
    let mut hits = header.iter().filter(|h| normalize(h) == n);
    match (hits.next(), hits.next()) {
        (Some(h), None) => Some(h),
        _ => None,
    }
}

impl Mapping {
    /// Maps `header` to roles: `explicit` first (later entries win over earlier ones for
    /// the same role), then each remaining role by its own name, then by synonyms.
    pub fn resolve(header: &[String], explicit: &[ExplicitColumn]) -> Result<Mapping, MappingError> {
        let mut mapping = Mapping::default();
        for e in explicit {
            let Some(role) = roles().find(|r| *r == e.role || normalize(r) == normalize(&e.role)) else {
                return Err(MappingError::UnknownRole {
                    role: e.role.clone(),
                    origin: e.origin.clone(),
                });
            };
            let Some(column) = find_column(header, &e.column) else {
                return Err(MappingError::NoSuchColumn {
                    role: e.role.clone(),
                    column: e.column.clone(),
                    origin: e.origin.clone(),
                    found: header.join(", "),
                });
            };
            mapping.roles.insert(role, (column.to_string(), MatchKind::Explicit));
        }
        let taken = |m: &Mapping, column: &str| m.roles.values().any(|(c, _)| c == column);
        let normalized: Vec<String> = header.iter().map(|h| normalize(h)).collect();
        // By the role's own name first, over every role, so a synonym never takes a column
        // another role names exactly (`Profit %` is the margin even though "profit" is near).
        for role in roles() {
            if mapping.roles.contains_key(role) {
                continue;
            }
            let own = normalize(role);
            let hits: Vec<&String> = header
                .iter()
                .zip(&normalized)
                .filter(|(h, n)| **n == own && !taken(&mapping, h))
                .map(|(h, _)| h)
                .collect();
            match hits.as_slice() {
                [one] => {
                    mapping.roles.insert(role, ((*one).clone(), MatchKind::Name));
                }
                [] => {}
                many => {
                    mapping
                        .ambiguous
                        .insert(role, many.iter().map(|h| (*h).clone()).collect());
                }
            }
        }
        for (role, synonyms) in SYNONYMS {
            if mapping.roles.contains_key(role) || mapping.ambiguous.contains_key(role) {
                continue;
            }
            let hits: Vec<&String> = header
                .iter()
                .zip(&normalized)
                .filter(|(h, n)| synonyms.contains(&n.as_str()) && !taken(&mapping, h))
                .map(|(h, _)| h)
                .collect();
            match hits.as_slice() {
                [one] => {
                    mapping.roles.insert(role, ((*one).clone(), MatchKind::Synonym));
                }
                [] => {}
                many => {
                    mapping
                        .ambiguous
                        .insert(role, many.iter().map(|h| (*h).clone()).collect());
                }
            }
        }
        Ok(mapping)
    }

    /// The file column a role is read from.
    pub fn column(&self, role: &str) -> Option<&str> {
        self.roles.get(role).map(|(c, _)| c.as_str())
    }

    /// The role a file column is read as.
    pub fn role_of(&self, column: &str) -> Option<&'static str> {
        self.roles.iter().find(|(_, (c, _))| c == column).map(|(r, _)| *r)
    }

    /// What differs from reading every role from the column of its own name: part of the
    /// dataset's reference, so results under another mapping are never reused.
    pub fn signature(&self) -> String {
        self.roles
            .iter()
            .filter(|(role, (column, _))| **role != column.as_str())
            .map(|(role, (column, _))| format!("{role}={column}"))
            .collect::<Vec<_>>()
            .join("\u{1f}")
    }
}

/// A text column of the file and how many distinct values it holds (when counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextColumn {
    pub name: String,
    pub distinct: Option<usize>,
}

/// Columns that could serve as `role`: unmapped text columns, the usual stand-ins first.
/// Within each group, `brand` and `store_id` prefer more distinct values (the finer
/// dimension), `category`, `region` and `country` fewer (the coarser one).
pub fn candidates_for(role: &str, text_columns: &[TextColumn], mapping: &Mapping) -> Vec<String> {
    let usual: &[&str] = DIMENSION_CANDIDATES
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(&[], |(_, c)| c);
    let finer = matches!(role, "brand" | "store_id");
    let mut free: Vec<&TextColumn> = text_columns
        .iter()
        .filter(|c| mapping.role_of(&c.name).is_none())
        .collect();
    // Stable: the file's order breaks ties, and columns never counted keep their place.
    free.sort_by_key(|c| {
        let is_usual = usual.contains(&normalize(&c.name).as_str());
        let rank = match (c.distinct, finer) {
            (Some(n), true) => usize::MAX - n,
            (Some(n), false) => n,
            (None, _) => usize::MAX,
        };
        (!is_usual, rank)
    });
    free.iter().map(|c| c.name.clone()).collect()
}

/// When both `brand` and `category` are missing, their first proposals the right way round:
/// the brand is the finer dimension, so the column with more distinct values. Each list is
/// reordered so the two first proposals are never the coarse one as brand and the fine one
/// as category.
pub fn unswap_proposals(brand: &mut [String], category: &mut [String], text_columns: &[TextColumn]) {
    let distinct = |name: &str| text_columns.iter().find(|c| c.name == name).and_then(|c| c.distinct);
    let (Some(b), Some(c)) = (brand.first().cloned(), category.first().cloned()) else {
        return;
    };
    if b == c {
        // One column proposed for both: the brand takes the next finest.
        return;
    }
    if let (Some(nb), Some(nc)) = (distinct(&b), distinct(&c))
        && nb < nc
        && brand.contains(&c)
        && category.contains(&b)
    {
        let at = brand.iter().position(|x| *x == c).expect("checked");
        brand[..=at].rotate_right(1);
        let at = category.iter().position(|x| *x == b).expect("checked");
        category[..=at].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn explicit(role: &str, column: &str) -> ExplicitColumn {
        ExplicitColumn {
            role: role.into(),
            column: column.into(),
            origin: "--column".into(),
        }
    }

    #[test]
    fn names_match_without_case_spaces_or_punctuation() {
        let h = header(&["BRAND", "Total Revenue", "units-sold", "Profit %", "Country/Region"]);
        let m = Mapping::resolve(&h, &[]).unwrap();
        assert_eq!(m.column("brand"), Some("BRAND"));
        assert_eq!(m.column("total_revenue"), Some("Total Revenue"));
        assert_eq!(m.column("units_sold"), Some("units-sold"));
        assert_eq!(m.column("profit_margin"), Some("Profit %"));
        assert_eq!(m.column("profit"), None);
        assert_eq!(m.column("country"), Some("Country/Region"));
        assert_eq!(m.roles["brand"].1, MatchKind::Name);
    }

    #[test]
    fn retail_export_synonyms() {
        let h = header(&[
            "Row ID",
            "Order Date",
            "Ship Date",
            "Segment",
            "Region",
            "Category",
            "Sub-Category",
            "Product Name",
            "Sales",
            "Quantity",
            "Profit",
        ]);
        let m = Mapping::resolve(&h, &[]).unwrap();
        assert_eq!(m.column("sale_date"), Some("Order Date"));
        assert_eq!(m.column("total_revenue"), Some("Sales"));
        assert_eq!(m.column("units_sold"), Some("Quantity"));
        assert_eq!(m.column("profit"), Some("Profit"));
        assert_eq!(m.column("region"), Some("Region"));
        assert_eq!(m.column("brand"), None);
        assert_eq!(m.roles["total_revenue"].1, MatchKind::Synonym);
        let text: Vec<TextColumn> = ["Segment", "Region", "Category", "Sub-Category", "Product Name"]
            .iter()
            .map(|n| TextColumn {
                name: n.to_string(),
                distinct: None,
            })
            .collect();
        assert_eq!(
            candidates_for("brand", &text, &m),
            vec!["Sub-Category", "Product Name", "Segment"]
        );
    }

    #[test]
    fn export_names_of_quantity_and_profit_map_without_flags() {
        let h = header(&[
            "ORDERNUMBER",
            "QUANTITYORDERED",
            "PRICEEACH",
            "SALES",
            "ORDERDATE",
            "PRODUCTLINE",
        ]);
        let m = Mapping::resolve(&h, &[]).unwrap();
        assert_eq!(m.column("units_sold"), Some("QUANTITYORDERED"));
        assert_eq!(m.column("total_revenue"), Some("SALES"));
        assert_eq!(m.column("price_per_unit"), Some("PRICEEACH"));
        let m = Mapping::resolve(
            &header(&["Retailer", "Total Sales", "Operating Profit", "Operating Margin"]),
            &[],
        )
        .unwrap();
        assert_eq!(m.column("profit"), Some("Operating Profit"));
        assert_eq!(m.column("total_revenue"), Some("Total Sales"));
        assert_eq!(m.column("profit_margin"), Some("Operating Margin"));
        let m = Mapping::resolve(&header(&["Net Sales", "Net Profit", "Qty"]), &[]).unwrap();
        assert_eq!(
            (m.column("total_revenue"), m.column("profit")),
            (Some("Net Sales"), Some("Net Profit"))
        );
    }

    #[test]
    fn the_finer_column_is_proposed_as_brand_and_the_coarser_as_category() {
        let m = Mapping::default();
        let cols = |v: &[(&str, usize)]| -> Vec<TextColumn> {
            v.iter()
                .map(|(n, d)| TextColumn {
                    name: n.to_string(),
                    distinct: Some(*d),
                })
                .collect()
        };
        // Products are the coarse dimension here, retailers the fine one.
        let text = cols(&[("Product", 6), ("Retailer", 40), ("City", 52)]);
        let mut brand = candidates_for("brand", &text, &m);
        let mut category = candidates_for("category", &text, &m);
        assert_eq!(brand, ["Product", "City", "Retailer"], "the usual stand-in first");
        assert_eq!(category, ["Product", "Retailer", "City"]);
        unswap_proposals(&mut brand, &mut category, &text);
        assert_eq!(brand[0], "Product", "one column for both stays as proposed");
        let text = cols(&[("Sub-Category", 17), ("Segment", 3)]);
        let mut brand = vec!["Segment".to_string(), "Sub-Category".to_string()];
        let mut category = vec!["Sub-Category".to_string(), "Segment".to_string()];
        unswap_proposals(&mut brand, &mut category, &text);
        assert_eq!((brand[0].as_str(), category[0].as_str()), ("Sub-Category", "Segment"));
    }

    #[test]
    fn two_candidates_are_reported_not_guessed() {
        let h = header(&["Sales", "Revenue", "Qty"]);
        let m = Mapping::resolve(&h, &[]).unwrap();
        assert_eq!(m.column("total_revenue"), None);
        assert_eq!(m.ambiguous["total_revenue"], vec!["Sales", "Revenue"]);
        // The role's own name beats a synonym.
        let m = Mapping::resolve(&header(&["Sales", "Total_Revenue"]), &[]).unwrap();
        assert_eq!(m.column("total_revenue"), Some("Total_Revenue"));
    }

    #[test]
    fn explicit_beats_automatic_and_names_its_mistakes() {
        let h = header(&["Sales", "Revenue", "Sub-Category", "brand"]);
        let m = Mapping::resolve(
            &h,
            &[explicit("total_revenue", "Revenue"), explicit("brand", "sub-category")],
        )
        .unwrap();
        assert_eq!(m.column("total_revenue"), Some("Revenue"));
        assert_eq!(m.column("brand"), Some("Sub-Category"));
        assert!(m.ambiguous.is_empty());
        assert_eq!(m.signature(), "brand=Sub-Category\u{1f}total_revenue=Revenue");
        let err = Mapping::resolve(&h, &[explicit("revenue", "Sales")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown role `revenue` in --column; roles are: sale_date")
        );
        let err = Mapping::resolve(&h, &[explicit("brand", "Maker")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--column maps `brand` to `Maker`, which is not a column of the file; its columns are: Sales, Revenue, \
             Sub-Category, brand"
        );
    }

    #[test]
    fn the_sample_maps_to_itself() {
        let h = header(&crate::data::generate::COLUMNS);
        let m = Mapping::resolve(&h, &[]).unwrap();
        assert_eq!(m.roles.len(), 16);
        assert_eq!(m.signature(), "");
    }

    #[test]
    fn dimension_names_in_flows() {
        assert_eq!(dimension_role("Brand"), Some("brand"));
        assert_eq!(dimension_role("store"), Some("store_id"));
        assert_eq!(dimension_role("Store ID"), Some("store_id"));
        assert_eq!(dimension_role("Segment"), None);
    }
}
