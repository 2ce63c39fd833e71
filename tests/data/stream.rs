//! A file read in batches and summed as it goes (how a file too large to hold is read)
//! gives the flow what the same file read whole gives: every tool's result, the profile,
//! the notes, the errors and the baseline's describe().

use std::path::Path;

use mrflow::context::baseline;
use mrflow::context::describe::FilePreview;
use mrflow::data::{Dataset, LoadOptions, WholeBatch, load};
use mrflow::flow::Flow;
use mrflow::tools::Rows;

/// Reads in batches of about this many bytes, from any size of file.
fn batched(batch: usize) -> LoadOptions {
    LoadOptions {
        stream_from: Some(0),
        batch_bytes: Some(batch),
        ..LoadOptions::default()
    }
}

/// The dataset, the baseline's preview text made from what the loader showed, and how many
/// batches it showed.
fn load_with(path: &Path, required: &[&str], options: &LoadOptions) -> (Dataset, String, usize) {
    let mut preview = FilePreview::default();
    let mut batches = 0;
    let dataset = load(
        path,
        required,
        options,
        None,
        Some(&mut |b: WholeBatch<'_>| {
            batches = if b.first { 1 } else { batches + 1 };
            preview.add(b.frame, b.first);
        }),
    )
    .unwrap();
    (dataset, preview.text().unwrap(), batches)
}

fn rows(d: &Dataset) -> Rows<'_> {
    Rows {
        grouped: d.profile.grouped.as_ref(),
        ..(&d.frame).into()
    }
}

/// Every tool of every built-in flow, on both datasets: the same result, to the cent.
fn assert_same_results(whole: &Dataset, summed: &Dataset) {
    for name in ["roi_analysis", "brand_performance", "sales_forecast"] {
        let flow = Flow::builtin(name).unwrap();
        for call in flow.steps().iter().flat_map(|s| s.tools.iter()) {
            let has = |c: &&str| whole.frame.column(c).is_ok();
            if !call.required_columns().iter().all(has) {
                continue;
            }
            let (a, b) = match (call.run_on(rows(whole)), call.run_on(rows(summed))) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => {
                    assert_eq!(a.map(|o| o.result), b.map(|o| o.result), "{name}: {}", call.label());
                    continue;
                }
            };
            if matches!(call, mrflow::tools::ToolCall::LoadData) {
                assert_same_profile(&a.result, &b.result);
            } else {
                assert_eq!(a.result, b.result, "{name}: {}", call.label());
                assert_eq!(a.facts, b.facts, "{name}: {}", call.label());
            }
        }
    }
}

/// The same profile; sums (and means) added in another order agree to 1e-9 of them.
fn assert_same_profile(a: &serde_json::Value, b: &serde_json::Value) {
    assert_eq!(a["rows"], b["rows"]);
    assert_eq!(a["first_date"], b["first_date"]);
    assert_eq!(a["last_date"], b["last_date"]);
    let (ca, cb) = (a["columns"].as_array().unwrap(), b["columns"].as_array().unwrap());
    assert_eq!(ca.len(), cb.len());
    for (x, y) in ca.iter().zip(cb) {
        for field in ["name", "distinct", "min", "max"] {
            assert_eq!(x[field], y[field], "{} {field}", x["name"]);
        }
        for field in ["mean", "sum"] {
            match (x[field].as_f64(), y[field].as_f64()) {
                (Some(p), Some(q)) => assert!(
                    (p - q).abs() <= 1e-9 * p.abs().max(1.0),
                    "{} {field}: {p} {q}",
                    x["name"]
                ),
                (p, q) => assert_eq!(p, q, "{} {field}", x["name"]),
            }
        }
    }
}

fn all_required() -> Vec<&'static str> {
    let mut required: Vec<&'static str> = Vec::new();
    for name in ["roi_analysis", "brand_performance", "sales_forecast"] {
        let flow = Box::leak(Box::new(Flow::builtin(name).unwrap()));
        for c in flow.required_columns() {
            if !required.contains(&c) {
                required.push(c);
            }
        }
    }
    required
}

#[test]
fn the_sample_read_in_batches_gives_what_it_gives_read_whole() {
    let required = all_required();
    let (whole, whole_text, one) = load_with(&crate::common::sample(), &required, &LoadOptions::default());
    let (summed, summed_text, many) = load_with(&crate::common::sample(), &required, &batched(100_000));
    assert_eq!((one, many > 10), (1, true), "{many} batches");
    assert!(whole.profile.grouped.is_none());
    let grouped = summed.profile.grouped.as_ref().expect("summed");
    assert_eq!(grouped.rows, whole.rows());
    assert_eq!(summed.rows(), whole.rows());
    assert!(summed.frame.height() < whole.frame.height());
    let mut profile = summed.profile.clone();
    profile.grouped = None;
    assert_eq!(profile, whole.profile);
    assert_eq!(summed.reference, whole.reference);
    assert_same_results(&whole, &summed);
    assert_eq!(summed_text, whole_text);
}

/// An export as people write them: CRLF, a BOM, quoted fields with delimiters and line
/// breaks, empty values and NaN spread over the file, decimal commas under `;`.
fn messy(rows: usize, delimiter: char, decimal: char) -> String {
    let brands = ["Acme", "\"Best, Inc.\"", "Cola\u{e9}", "\"Multi\r\nLine\""];
    let mut out = String::from("\u{feff}Order Date");
    for h in ["Brand", "Region", "Units", "Revenue", "Cost", "Note"] {
        out.push(delimiter);
        out.push_str(h);
    }
    out.push_str("\r\n");
    for i in 0..rows {
        let revenue = if i % 997 == 5 {
            String::new()
        } else if i % 1499 == 7 {
            "NaN".into()
        } else {
            format!("{}.{:02}", 100 + i % 900, i % 100)
        };
        let cost = format!("{}.{:02}", 40 + i % 300, (i * 7) % 100);
        let fields = [
            format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
            brands[i % 4].to_string(),
            ["North", "South", "East"][i % 3].to_string(),
            (1 + i % 9).to_string(),
            revenue.replace('.', &decimal.to_string()),
            cost.replace('.', &decimal.to_string()),
            if i % 5 == 0 {
                format!("\"note {i}{delimiter} more\"")
            } else {
                String::new()
            },
        ];
        out.push_str(&fields.join(&delimiter.to_string()));
        out.push_str("\r\n");
    }
    out
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The roles the messy exports are read for.
const MESSY_ROLES: [&str; 8] = [
    "brand",
    "region",
    "year",
    "month",
    "total_revenue",
    "total_cost",
    "profit",
    "units_sold",
];

/// `path` read with `whole_file` and with `in_batches`: the same notes, rows, tool results
/// and describe(). The two datasets, and how many batches each read showed.
fn assert_reads_alike(
    path: &Path,
    whole_file: &LoadOptions,
    in_batches: &LoadOptions,
) -> (Dataset, Dataset, usize, usize) {
    let (whole, whole_text, one) = load_with(path, &MESSY_ROLES, whole_file);
    let (summed, summed_text, many) = load_with(path, &MESSY_ROLES, in_batches);
    assert_eq!(summed.notes, whole.notes, "{path:?}");
    assert_eq!(summed.rows(), whole.rows(), "{path:?}");
    assert_same_results(&whole, &summed);
    assert_eq!(summed_text, whole_text, "{path:?}");
    (whole, summed, one, many)
}

#[test]
fn a_messy_export_read_in_batches_gives_what_it_gives_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    for (name, delimiter, decimal) in [("comma.csv", ',', '.'), ("semicolon.csv", ';', ',')] {
        let path = write(dir.path(), name, &messy(6000, delimiter, decimal));
        let (whole, _, _, many) = assert_reads_alike(&path, &LoadOptions::default(), &batched(20_000));
        assert!(many > 5, "{name}: {many} batches");
        assert!(
            whole.notes.iter().any(|n| n.starts_with("skipped")),
            "{name}: {:?}",
            whole.notes
        );
    }
}

#[test]
fn a_bad_value_in_a_later_batch_is_named_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = messy(3000, ',', '.');
    text.push_str("2024-01-01,Acme,North,3,lots,1.00,\r\n");
    let path = write(dir.path(), "bad.csv", &text);
    let required = ["brand", "total_revenue"];
    let whole = load(&path, &required, &LoadOptions::default(), None, None).unwrap_err();
    let summed = load(&path, &required, &batched(10_000), None, None).unwrap_err();
    assert!(whole.to_string().contains("line 3002"), "{whole}");
    assert_eq!(summed.to_string(), whole.to_string());
}

#[test]
fn a_column_whose_type_changes_in_a_later_batch_is_read_as_the_whole_file_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    // `year` turns to a decimal and `discount` to a word: past the records types are
    // inferred from (10,000: the types no longer fit, every column is read as text), or
    // within them but past the first batch (the types inferred from them already fit; a
    // column with a word in it is text).
    for (year_at, discount_at, batch) in [
        (20_000, 25_000, 300_000),
        (5_000, 99_999, 8_000),
        (99_999, 3_000, 8_000),
    ] {
        let mut text = String::from("brand,year,units_sold,total_revenue,discount\n");
        for i in 0..30_000 {
            let year = if i == year_at {
                "2024.0".to_string()
            } else {
                (2020 + i % 4).to_string()
            };
            let discount = if i == discount_at {
                "none".to_string()
            } else {
                format!("{}.5", i % 10)
            };
            text.push_str(&format!(
                "B{},{year},{},{}.25,{discount}\n",
                i % 7,
                1 + i % 5,
                10 + i % 50
            ));
        }
        let path = write(dir.path(), "drift.csv", &text);
        let required = ["brand", "units_sold", "total_revenue"];
        let (whole, whole_text, _) = load_with(&path, &required, &LoadOptions::default());
        let (summed, summed_text, many) = load_with(&path, &required, &batched(batch));
        assert!(many > 2, "{many}");
        assert_eq!(summed.rows(), whole.rows());
        assert_eq!(summed_text, whole_text, "year at {year_at}, discount at {discount_at}");
        let sum = |d: &Dataset| {
            use polars::prelude::ChunkAgg;
            let revenue = d.frame.column("total_revenue").unwrap().f64().unwrap().sum().unwrap();
            (revenue * 100.0).round()
        };
        assert_eq!(sum(&summed), sum(&whole));
    }
}

#[test]
fn progress_counts_the_batches_bytes_and_ends_done() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "progress.csv", &messy(3000, ',', '.'));
    let progress = mrflow::data::LoadProgress::new();
    let options = LoadOptions {
        progress: mrflow::data::Progress(Some(progress.clone())),
        ..batched(10_000)
    };
    load(&path, &["brand", "total_revenue"], &options, None, None).unwrap();
    let n = std::fs::metadata(&path).unwrap().len();
    assert_eq!(progress.snapshot(), (n, n, mrflow::data::Stage::Done));
}

/// Batches are read while the file is scanned, from what its first MiB says; the scan's
/// findings past it stand: another encoding is read as the whole file is, a record with
/// too many fields is the error.
#[test]
fn what_the_scan_finds_past_the_first_mib_stands() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = messy(30_000, ',', '.').replace('\u{e9}', "e").replace('\u{feff}', "");
    assert!(text.len() > 1 << 20);
    let required = ["brand", "region", "total_revenue"];

    // Latin-1 past the first MiB: transcoded and read whole, as without batches.
    let mut latin = text.clone().into_bytes();
    latin.extend_from_slice(b"2024-01-01,Caf\xe9,North,1,10.00,5.00,\r\n");
    let path = dir.path().join("latin.csv");
    std::fs::write(&path, &latin).unwrap();
    let (whole, whole_text, _) = load_with(&path, &required, &LoadOptions::default());
    let (early, early_text, batches) = load_with(&path, &required, &batched(50_000));
    assert_eq!(batches, 1, "read whole once the scan found Windows-1252");
    assert!(early.profile.grouped.is_none());
    assert!(
        early.notes.iter().any(|n| n.contains("Windows-1252")),
        "{:?}",
        early.notes
    );
    assert_eq!(early.profile, whole.profile);
    assert_eq!(early_text, whole_text);

    // A record with an extra field past the first MiB: the scan's error.
    text.push_str("2024-01-01,Acme,North,1,10.00,5.00,note,extra\r\n");
    let path = write(dir.path(), "ragged.csv", &text);
    let whole = load(&path, &required, &LoadOptions::default(), None, None).unwrap_err();
    let early = load(&path, &required, &batched(50_000), None, None).unwrap_err();
    assert!(whole.to_string().contains("fields, but the header has 7"), "{whole}");
    assert_eq!(early.to_string(), whole.to_string());
}

/// Through the engine: a run on the sample read in batches measures the same baseline
/// (its describe() made batch by batch on a thread of its own) and keeps every fact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_batches_measures_the_same_baseline() {
    let whole = crate::common::roi_report(&crate::common::sample(), &LoadOptions::default(), || {}).await;
    let batched = crate::common::roi_report(&crate::common::sample(), &batched(100_000), || {}).await;
    assert!(batched.totals.baseline_prompt_tokens > 10_000);
    assert_eq!(
        batched.totals.baseline_prompt_tokens,
        whole.totals.baseline_prompt_tokens
    );
    assert_eq!(batched.facts, whole.facts);
}

#[test]
fn a_header_alone_has_no_rows_read_either_way() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "brand,total_revenue",
        "brand,total_revenue\n",
        "brand,total_revenue\r\n\r\n",
    ] {
        let path = write(dir.path(), "header.csv", text);
        let whole = load(&path, &["brand"], &LoadOptions::default(), None, None).unwrap_err();
        let early = load(&path, &["brand"], &batched(1000), None, None).unwrap_err();
        assert_eq!(early.to_string(), whole.to_string(), "{text:?}");
    }
}

/// `mrflow-tui data` on a large file reads it in batches too, and says what it says of the
/// file read whole: the profile, what is missing, the value a run would stop at.
#[test]
fn inspecting_in_batches_says_what_inspecting_whole_says() {
    use mrflow::data::inspect;
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", &messy(6000, ',', '.'));
    let mut text = messy(6000, ',', '.');
    text.push_str("2024-01-01,Acme,North,3,lots,1.00,\r\n");
    let bad = write(dir.path(), "bad.csv", &text);
    let cases: [(&Path, &[&str]); 4] = [
        (&good, &["brand", "total_revenue", "profit"]),
        (&good, &["brand", "category"]),
        (&bad, &["brand", "total_revenue"]),
        (
            &crate::common::sample(),
            &["brand", "category", "total_revenue", "year", "month"],
        ),
    ];
    for (path, required) in cases {
        let whole = inspect(path, required, &LoadOptions::default()).unwrap();
        let batches = inspect(path, required, &batched(20_000)).unwrap();
        let mut profile = batches.profile.clone();
        profile.grouped = None;
        assert_eq!(profile, whole.profile, "{path:?} {required:?}");
        assert_eq!(batches.missing, whole.missing, "{path:?} {required:?}");
        assert_eq!(batches.problem, whole.problem, "{path:?} {required:?}");
    }
}

/// A report whose preview was not kept describes the file again: read as the loader reads
/// it, so a `;` export with decimal commas is described as a run describes it.
#[test]
fn the_preview_made_again_is_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "semicolon.csv", &messy(3000, ';', ','));
    let (_, run_text, _) = load_with(&path, &["brand"], &LoadOptions::default());
    assert_eq!(baseline::data_preview(&path).unwrap(), run_text);
}

/// A Parquet file as large is read a few row groups at a time, to the same figures.
#[test]
fn a_large_parquet_file_is_read_a_few_row_groups_at_a_time() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "export.csv", &messy(6000, ',', '.'));
    let mut frame = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(csv))
        .unwrap()
        .finish()
        .unwrap();
    let path = dir.path().join("export.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(500))
        .finish(&mut frame)
        .unwrap();
    let whole_file = LoadOptions {
        stream_from: Some(u64::MAX),
        ..LoadOptions::default()
    };
    let (_, summed, one, many) = assert_reads_alike(&path, &whole_file, &batched(20_000));
    assert!(
        one == 1 && many > 5,
        "{one} and {many} batches: 500-row groups, 312 rows wanted"
    );
    assert!(summed.profile.grouped.is_some());
    // What `data` says of it, and of what it lacks.
    for required in [&MESSY_ROLES[..], &["brand", "category"]] {
        let a = mrflow::data::inspect(&path, required, &whole_file).unwrap();
        let b = mrflow::data::inspect(&path, required, &batched(20_000)).unwrap();
        let mut profile = b.profile.clone();
        profile.grouped = None;
        assert_eq!((profile, b.missing, b.problem), (a.profile, a.missing, a.problem));
    }
}
