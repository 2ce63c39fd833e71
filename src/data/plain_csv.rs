//! A batch of plain CSV parsed in one pass over its bytes: no quotes, no carriage returns,
//! every record as wide as the header, every column a number or text. Most large exports
//! are such files. polars' reader makes two passes over a batch (counting its lines with a
//! byte loop on stable Rust, then splitting the fields); here a field's end is found eight
//! bytes at a time and its value pushed at once, about a sixth less CPU for a million-row
//! load. A value is read as polars reads it: the same float parser, text as is, an empty
//! field missing. Anything else gives `None`, and polars' reader parses the batch, so a
//! batch reads the same either way (tested against polars on the same bytes).

use polars::prelude::*;

/// `bytes` (a header line, then whole records) parsed with `schema`'s types as polars'
/// reader parses them with `delimiter` and `"` quotes, in about `parts` pieces side by
/// side (each a chunk of the columns); `None` when the batch is not plain or a value is
/// not written as this parser takes it.
pub(super) fn parse_plain(bytes: &[u8], delimiter: u8, schema: &Schema, parts: usize) -> Option<DataFrame> {
    if schema.len() < 2
        || !delimiter.is_ascii()
        || matches!(delimiter, b'"' | b'\r' | b'\n')
        || memchr::memchr2(b'"', b'\r', bytes).is_some()
    {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let records = &text[memchr::memchr(b'\n', bytes)? + 1..];
    let parts = crate::parallel::map(&at_line_breaks(records, parts), |part| {
        parse_records(part, delimiter, schema)
    });
    let mut parts = parts.into_iter();
    let mut frame = parts.next()??;
    for part in parts {
        frame.vstack_mut_owned(part?).ok()?;
    }
    Some(frame)
}

/// `records` cut into about `parts` pieces of whole lines; one, empty, when it is empty.
fn at_line_breaks(records: &str, parts: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 1..parts {
        let at = (records.len() * i / parts).max(start);
        match memchr::memchr(b'\n', &records.as_bytes()[at..]) {
            Some(n) if at + n + 1 < records.len() => {
                pieces.push(&records[start..at + n + 1]);
                start = at + n + 1;
            }
            _ => break,
        }
    }
    pieces.push(&records[start..]);
    pieces
}

/// One column being built.
enum Builder {
    Int(PrimitiveChunkedBuilder<Int64Type>),
    Float(PrimitiveChunkedBuilder<Float64Type>),
    Text(StringChunkedBuilder),
}

impl Builder {
    fn new(name: &PlSmallStr, dtype: &DataType, capacity: usize) -> Option<Builder> {
        let name = name.clone();
        Some(match dtype {
            DataType::Int64 => Builder::Int(PrimitiveChunkedBuilder::new(name, capacity)),
            DataType::Float64 => Builder::Float(PrimitiveChunkedBuilder::new(name, capacity)),
            DataType::String => Builder::Text(StringChunkedBuilder::new(name, capacity)),
            _ => return None,
        })
    }

    /// Adds a field; `None` when it is not a value this column takes as written (an empty
    /// field is a missing value).
    #[inline]
    fn push(&mut self, field: &str) -> Option<()> {
        if field.is_empty() {
            match self {
                Builder::Int(b) => b.append_null(),
                Builder::Float(b) => b.append_null(),
                Builder::Text(b) => b.append_null(),
            }
            return Some(());
        }
        match self {
            Builder::Text(b) => b.append_value(field),
            Builder::Int(b) => b.append_value(plain_int(field.as_bytes())?),
            Builder::Float(b) => b.append_value(float(field.as_bytes())?),
        }
        Some(())
    }

    fn finish(self) -> Column {
        match self {
            Builder::Int(b) => b.finish().into_column(),
            Builder::Float(b) => b.finish().into_column(),
            Builder::Text(b) => b.finish().into_column(),
        }
    }
}

/// Whole records (the last may end without a line break) as columns of `schema`'s types.
fn parse_records(records: &str, delimiter: u8, schema: &Schema) -> Option<DataFrame> {
    let bytes = records.as_bytes();
    // Room for every row at once: a column that grows is copied and faulted in again.
    let capacity = memchr::memchr_iter(b'\n', bytes).count() + 1;
    let mut columns = schema
        .iter()
        .map(|(name, dtype)| Builder::new(name, dtype, capacity))
        .collect::<Option<Vec<_>>>()?;
    let last = columns.len() - 1;
    let (mut column, mut start) = (0, 0);
    while let Some(end) = field_end(bytes, start, delimiter) {
        columns[column].push(&records[start..end])?;
        if bytes[end] == b'\n' {
            if column != last {
                return None;
            }
            column = 0;
        } else {
            column += 1;
            if column > last {
                return None;
            }
        }
        start = end + 1;
    }
    // The last record may end without a line break.
    if start < records.len() {
        columns[column].push(&records[start..])?;
        if column != last {
            return None;
        }
    } else if column != 0 {
        return None;
    }
    let columns: Vec<Column> = columns.into_iter().map(Builder::finish).collect();
    DataFrame::new(columns.first().map_or(0, |c| c.len()), columns).ok()
}

/// Where the field at `from` ends: the first delimiter or line break from there on, found
/// eight bytes at a time (most fields are shorter: one step, where a search call costs
/// more than it saves).
#[inline]
fn field_end(bytes: &[u8], from: usize, delimiter: u8) -> Option<usize> {
    let mut at = from;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let found = bytes_equal(word, delimiter) | bytes_equal(word, b'\n');
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == delimiter || b == b'\n')
        .map(|p| at + p)
}

/// The high bit of each byte of `word` that equals `byte`, and no other bit.
#[inline]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    // A byte's high bit is set after adding 0x7F to its low bits, or is its own, unless
    // the byte is zero.
    !(((x & LOW) + LOW) | x | LOW)
}

/// Powers of ten up to those a double holds exactly.
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Whether a number is written with a leading `-`, and the rest.
#[inline]
fn sign(s: &[u8]) -> (bool, &[u8]) {
    match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    }
}

/// An integer written `-?[0-9]{1,18}`.
#[inline]
fn plain_int(s: &[u8]) -> Option<i64> {
    let (negative, digits) = sign(s);
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(if negative { -value } else { value })
}

/// A float as polars reads one (fast-float2's correctly rounded parse of the whole field).
/// A decimal of up to 15 digits (`-12`, `3.50`) is read here: its digits as an integer
/// and a power of ten are both exact doubles, so one division rounds it correctly, which
/// is what the parser gives.
#[inline]
fn float(s: &[u8]) -> Option<f64> {
    plain_decimal(s).or_else(|| fast_float2::parse(s).ok())
}

#[inline]
fn plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, digits) = sign(s);
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        if b.is_ascii_digit() {
            mantissa = mantissa * 10 + u64::from(b - b'0');
            count += 1;
            if count > 15 {
                return None;
            }
        } else if b == b'.' && point.is_none() && i > 0 && i + 1 < digits.len() {
            point = Some(digits.len() - i - 1);
        } else {
            return None;
        }
    }
    if count == 0 {
        return None;
    }
    let value = mantissa as f64 / POWERS_OF_TEN[point.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn schema(types: &[(&str, DataType)]) -> Schema {
        types.iter().map(|(n, t)| Field::new((*n).into(), t.clone())).collect()
    }

    /// What polars' reader gives for the same bytes and types, read as the loader reads a
    /// batch it does not parse itself.
    fn by_polars(bytes: &[u8], delimiter: u8, schema: &Schema) -> PolarsResult<DataFrame> {
        crate::data::source::csv_options(delimiter, false)
            .with_schema(Some(Arc::new(schema.clone())))
            .into_reader_with_file_handle(Cursor::new(bytes.to_vec()))
            .finish()
    }

    fn assert_same(bytes: &str, delimiter: u8, schema: &Schema) -> DataFrame {
        let ours = parse_plain(bytes.as_bytes(), delimiter, schema, 1).expect("a plain batch");
        // In pieces, as on a machine of more cores.
        let pieces = parse_plain(bytes.as_bytes(), delimiter, schema, 3).expect("a plain batch");
        assert!(ours.equals_missing(&pieces));
        let theirs = by_polars(bytes.as_bytes(), delimiter, schema).unwrap();
        assert_eq!(ours.schema(), theirs.schema());
        assert!(ours.equals_missing(&theirs), "{ours}\n{theirs}");
        // Floats equal to the bit.
        for (a, b) in ours.columns().iter().zip(theirs.columns()) {
            if let (Ok(a), Ok(b)) = (a.f64(), b.f64()) {
                let bits = |c: &Float64Chunked| c.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b));
            }
        }
        ours
    }

    #[test]
    fn reads_a_plain_export_as_polars_does() {
        let types = schema(&[
            ("date", DataType::String),
            ("units", DataType::Int64),
            ("price", DataType::Float64),
            ("brand", DataType::String),
        ]);
        let text = "Date,Units,Price,Brand\n\
                    2024-01-03,12,2.57,Starbucks Cold Brew\n\
                    2024-01-04,-3,-0.5,Tropicana\n\
                    ,,,\n\
                    2024-01-05,0,0.1,Crème brûlée Café au lait\n\
                    2024-01-06,7,1e3,\n\
                    2024-01-07,-0,-0.0,x\n\
                    2024-01-08,123456789012345678,0.30000000000000004,last";
        let frame = assert_same(text, b',', &types);
        assert_eq!(frame.height(), 7);
        // With a final line break, and with another delimiter.
        assert_same(&format!("{text}\n"), b',', &types);
        assert_same(&text.replace(',', ";"), b';', &types);
        assert_same(&text.replace(',', "\t"), b'\t', &types);
        // The header alone.
        assert_eq!(
            assert_same(
                "a,b\n",
                b',',
                &schema(&[("a", DataType::Int64), ("b", DataType::String)])
            )
            .height(),
            0
        );
    }

    #[test]
    fn fields_end_at_the_first_delimiter_or_line_break() {
        let line = b"2024-01-03;12;\xC3\xA9\x80\xFF;Starbucks Cold Brew;;x\nnext";
        let mut ends = Vec::new();
        let mut from = 0;
        while let Some(end) = field_end(line, from, b';') {
            ends.push(end);
            from = end + 1;
        }
        let expected: Vec<usize> = line
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b';' || **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        assert_eq!(ends, expected);
        for byte in [0u8, 1, b';', 0x7F, 0x80, 0xFF] {
            let word = u64::from_le_bytes([byte, 0, b';', 0x80, 0xFF, 0x7F, 1, byte]);
            let want = (0..8)
                .filter(|i| word.to_le_bytes()[*i] == byte)
                .fold(0u64, |m, i| m | 0x80 << (8 * i));
            assert_eq!(bytes_equal(word, byte), want, "{byte:#x}");
        }
    }

    #[test]
    fn pieces_are_whole_lines() {
        let records = "a,1\nbb,2\nccc,3\nd,4\n";
        for parts in 1..6 {
            let pieces = at_line_breaks(records, parts);
            assert_eq!(pieces.concat(), records);
            assert!(
                pieces.len() <= parts && pieces.iter().all(|p| p.ends_with('\n')),
                "{pieces:?}"
            );
        }
        assert_eq!(at_line_breaks("a,1\nb,2", 2), ["a,1\n", "b,2"]);
        assert_eq!(at_line_breaks("", 4), [""]);
    }

    #[test]
    fn leaves_to_polars_what_is_not_plain() {
        let types = schema(&[
            ("a", DataType::Int64),
            ("b", DataType::Float64),
            ("c", DataType::String),
        ]);
        for text in [
            "a,b,c\n1,2.5,\"quoted\"\n",
            "a,b,c\r\n1,2.5,x\r\n",
            "a,b,c\n1,2.5\n",
            "a,b,c\n1,2.5,x,extra\n",
            "a,b,c\n1,2.5,x\n\n2,3.5,y\n",
            "a,b,c\n+1,2.5,x\n",
            "a,b,c\n 1,2.5,x\n",
            "a,b,c\n1.0,2.5,x\n",
            "a,b,c\n1,2.5 ,x\n",
            "a,b,c\n1,abc,x\n",
        ] {
            assert!(parse_plain(text.as_bytes(), b',', &types, 1).is_none(), "{text:?}");
        }
        // Types this parser does not build.
        let booleans = schema(&[("a", DataType::Boolean), ("b", DataType::String)]);
        assert!(parse_plain(b"a,b\ntrue,x\n", b',', &booleans, 1).is_none());
        // Broken UTF-8.
        assert!(parse_plain(b"a,b,c\n1,2.5,\xff\n", b',', &types, 1).is_none());
    }

    /// Random batches from fields spelled every which way: whatever this parser takes,
    /// polars reads the same; whatever polars refuses, this parser leaves to it.
    #[test]
    fn agrees_with_polars_on_random_batches() {
        let spellings = [
            "",
            "0",
            "-0",
            "7",
            "-12",
            "007",
            "2.57",
            "-0.5",
            "0.10",
            "1e3",
            "1E-2",
            "inf",
            "NaN",
            "-",
            ".",
            "1.",
            ".5",
            "12345678901234567",
            "1234567890.123456",
            "abc",
            "Café",
            " 5",
            "5 ",
            "+3",
            "1,5",
        ];
        let types = [DataType::Int64, DataType::Float64, DataType::String];
        let mut seed = 17u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let (mut taken, mut refused) = (0, 0);
        for _ in 0..400 {
            let width = 2 + next(3);
            let columns: Vec<(String, DataType)> =
                (0..width).map(|i| (format!("c{i}"), types[next(3)].clone())).collect();
            let schema: Schema = columns.iter().map(|(n, t)| Field::new(n.into(), t.clone())).collect();
            let mut text = columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(",");
            for _ in 0..1 + next(6) {
                text.push('\n');
                let row: Vec<&str> = (0..width).map(|_| spellings[next(spellings.len())]).collect();
                text.push_str(&row.join(","));
            }
            if next(2) == 0 {
                text.push('\n');
            }
            match parse_plain(text.as_bytes(), b',', &schema, 1) {
                Some(_) => {
                    assert_same(&text, b',', &schema);
                    taken += 1;
                }
                None => refused += 1,
            }
        }
        // Both outcomes are exercised.
        assert!(taken > 20 && refused > 20, "{taken} taken, {refused} refused");
    }

    #[test]
    fn decimals_round_as_the_float_parser_does() {
        let mut seed = 29u64;
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let digits = (seed >> 20) % 1_000_000_000_000_000 / 1000;
            let scale = (seed >> 8) as usize % 16;
            let mut s = digits.to_string();
            if scale > 0 && scale < s.len() {
                s.insert(s.len() - scale, '.');
            }
            let ours = plain_decimal(s.as_bytes());
            let theirs: f64 = fast_float2::parse(s.as_bytes()).unwrap();
            assert_eq!(ours.map(f64::to_bits), Some(theirs.to_bits()), "{s}");
        }
    }
}
