//! CSV as real exports write it: the delimiter (`,` `;` tab `|`) sniffed from the first
//! records, RFC 4180 quoting read by csv-core's state machine (doubled quotes, newlines in
//! quotes, a bare quote inside an unquoted field taken as text, as polars and pandas take it),
//! and every record's field count checked against the header as the bytes stream past.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// Delimiters tried, in order of preference on a tie.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Records read from the head of a file to sniff its dialect.
const SNIFF_RECORDS: usize = 200;

fn reader(delimiter: u8) -> Reader {
    ReaderBuilder::new().delimiter(delimiter).build()
}

/// Up to `max` records of `bytes` as text. A record cut off by the end of `bytes` is left
/// out unless `complete` says `bytes` is the whole file.
pub fn records(bytes: &[u8], delimiter: u8, max: usize, complete: bool) -> Vec<Vec<String>> {
    records_to(bytes, delimiter, max, complete).0
}

/// As [`records`], with the offset in `bytes` where the last record returned ends.
pub fn records_to(bytes: &[u8], delimiter: u8, max: usize, complete: bool) -> (Vec<Vec<String>>, usize) {
    let mut end = 0;
    let mut rdr = reader(delimiter);
    let mut out = vec![0u8; 4096];
    let mut ends = vec![0usize; 64];
    let mut records = Vec::new();
    let mut input = bytes;
    let (mut outlen, mut endlen) = (0usize, 0usize);
    while records.len() < max {
        let (res, nin, nout, nend) = rdr.read_record(input, &mut out[outlen..], &mut ends[endlen..]);
        input = &input[nin..];
        outlen += nout;
        endlen += nend;
        match res {
            ReadRecordResult::InputEmpty => {
                if !complete || !input.is_empty() {
                    break;
                }
                // The whole file: flush the last record.
                let (res, _, nout, nend) = rdr.read_record(&[], &mut out[outlen..], &mut ends[endlen..]);
                outlen += nout;
                endlen += nend;
                if res == ReadRecordResult::Record {
                    records.push(fields(&out[..outlen], &ends[..endlen]));
                    end = bytes.len();
                }
                break;
            }
            ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                records.push(fields(&out[..outlen], &ends[..endlen]));
                end = bytes.len() - input.len();
                outlen = 0;
                endlen = 0;
            }
            ReadRecordResult::End => break,
        }
    }
    (records, end)
}

fn fields(out: &[u8], ends: &[usize]) -> Vec<String> {
    let mut start = 0;
    ends.iter()
        .map(|&end| {
            let field = String::from_utf8_lossy(&out[start..end]).into_owned();
            start = end;
            field
        })
        .collect()
}

/// Where the last whole record of `bytes` ends (past its line break), for `bytes` that
/// start where a record starts; `None` when no record ends in them. A block without a quote
/// is cut at its last line break; one with quotes is read through csv-core, so a line break
/// inside quotes (or after a bare quote in an unquoted field) is not taken for a record's end.
pub fn last_record_end(bytes: &[u8], delimiter: u8) -> Option<usize> {
    if memchr::memchr(b'"', bytes).is_none() {
        return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    }
    let mut rdr = reader(delimiter);
    // The fields themselves are not kept: csv-core writes each call's from the start.
    let mut out = vec![0u8; 1 << 16];
    let mut ends = vec![0usize; 1 << 10];
    let mut input = bytes;
    let mut end = None;
    loop {
        let (res, nin, _, _) = rdr.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        match res {
            ReadRecordResult::Record => {
                let mut at = bytes.len() - input.len();
                // csv-core ends a CRLF record at its `\r`; the `\n` belongs to it.
                if at > 0 && bytes[at - 1] == b'\r' && bytes.get(at) == Some(&b'\n') {
                    at += 1;
                }
                end = Some(at);
            }
            ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
            ReadRecordResult::InputEmpty | ReadRecordResult::End => return end,
        }
    }
}

/// The file rewritten with every field quoted (inner quotes doubled), as csv-core read it:
/// for the rare file whose quoting polars' fast parser does not take (a bare quote inside an
/// unquoted field), so both read the same fields.
pub fn requote(bytes: &[u8], delimiter: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 4);
    for record in records(bytes, delimiter, usize::MAX, true) {
        for (i, field) in record.iter().enumerate() {
            if i > 0 {
                out.push(delimiter);
            }
            out.push(b'"');
            out.extend_from_slice(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        }
        out.push(b'\n');
    }
    out
}

/// The delimiter under which the first records agree best with the header: most records
/// with the header's field count, then most fields. `,` when no candidate splits the header.
pub fn sniff_delimiter(head: &[u8], complete: bool) -> u8 {
    let mut best: Option<(usize, usize, u8)> = None;
    for d in DELIMITERS {
        let recs = records(head, d, SNIFF_RECORDS, complete);
        let Some(header) = recs.first() else { continue };
        if header.len() < 2 {
            continue;
        }
        let agreeing = recs[1..].iter().filter(|r| r.len() == header.len()).count();
        let score = (agreeing, header.len(), d);
        if best.is_none_or(|(a, n, _)| (agreeing, header.len()) > (a, n)) {
            best = Some(score);
        }
    }
    best.map_or(b',', |(_, _, d)| d)
}

/// A record whose field count differs from the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ragged {
    /// Line the record starts on (1-based).
    pub line: usize,
    /// Lines the record spans; more than one means a quote opened it across lines.
    pub lines: usize,
    pub found: usize,
    pub expected: usize,
}

/// Counts every record's fields as the file streams past and remembers the first whose
/// count differs from the header's. A line with no quote is counted with a vectorized scan
/// (most records of most exports); one with a quote goes through csv-core.
pub struct RecordCheck {
    delimiter: u8,
    reader: Reader,
    /// csv-core holds part of a record.
    in_record: bool,
    fields: usize,
    record_line: usize,
    /// The line at the current position, 1-based.
    line: usize,
    header: Option<usize>,
    records: usize,
    first_bad: Option<Ragged>,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordCheck {
    pub fn new(delimiter: u8) -> Self {
        RecordCheck {
            delimiter,
            reader: reader(delimiter),
            in_record: false,
            fields: 0,
            record_line: 1,
            line: 1,
            header: None,
            records: 0,
            first_bad: None,
            out: vec![0; 1 << 16],
            ends: vec![0; 256],
        }
    }

    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if !self.in_record
                && let Some(end) = memchr::memchr(b'\n', bytes)
            {
                let line = &bytes[..end];
                if memchr::memchr(b'"', line).is_none() {
                    if line.iter().any(|&b| b != b'\r') {
                        let fields = memchr::memchr_iter(self.delimiter, line).count() + 1;
                        self.record(fields, self.line, 1);
                    }
                    self.line += 1;
                    bytes = &bytes[end + 1..];
                    continue;
                }
            }
            if !self.in_record {
                self.in_record = true;
                self.fields = 0;
                self.record_line = self.line;
            }
            let (res, nin, _, nend) = self.reader.read_record(bytes, &mut self.out, &mut self.ends);
            self.line += memchr::memchr_iter(b'\n', &bytes[..nin]).count();
            bytes = &bytes[nin..];
            self.fields += nend;
            if res == ReadRecordResult::Record {
                self.end_record();
            }
        }
    }

    fn end_record(&mut self) {
        self.in_record = false;
        // csv-core skips blank lines; a "record" of one empty field is one of them at the end.
        let lines = (self.line - self.record_line).max(1);
        self.record(self.fields, self.record_line, lines);
    }

    fn record(&mut self, fields: usize, line: usize, lines: usize) {
        match self.header {
            None => self.header = Some(fields),
            Some(expected) => {
                self.records += 1;
                if fields != expected && self.first_bad.is_none() {
                    self.first_bad = Some(Ragged {
                        line,
                        lines,
                        found: fields,
                        expected,
                    });
                }
            }
        }
    }

    /// The data records counted and the first ragged one.
    pub fn finish(mut self) -> (usize, Option<Ragged>) {
        if self.in_record {
            let (res, _, _, nend) = self.reader.read_record(&[], &mut self.out, &mut self.ends);
            self.fields += nend;
            if res == ReadRecordResult::Record {
                self.line += 1;
                self.end_record();
            }
        }
        (self.records, self.first_bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_record_end_skips_line_breaks_in_quotes() {
        let end = |t: &str| last_record_end(t.as_bytes(), b',');
        assert_eq!(end("a,b\nc,d\ne,"), Some(8));
        assert_eq!(end("a,b"), None);
        // The second record's quote opens a field that is not closed in these bytes.
        assert_eq!(end("a,b\n\"c\nstill c,d\n"), Some(4));
        assert_eq!(end("a,\"b\nb\"\nc,d\ne"), Some(12));
        // CRLF records end after their `\n`; a bare quote in an unquoted field is text.
        assert_eq!(end("a,\"x\"\r\nb,c\r\nd"), Some(12));
        assert_eq!(end("5\" tall,b\nc,d\ne"), Some(14));
    }

    fn check(text: &str, delimiter: u8, chunk: usize) -> (usize, Option<Ragged>) {
        let mut c = RecordCheck::new(delimiter);
        for part in text.as_bytes().chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish()
    }

    #[test]
    fn quoting_as_rfc_4180_and_a_bare_quote_as_text() {
        let text = "a,b,c\n\"x, \"\"y\"\"\",2,3\n\"multi\nline\",5,6\nBig 5\" Cola,7,8\r\n9,10,11";
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(check(text, b',', chunk), (4, None), "chunk {chunk}");
        }
        let recs = records(text.as_bytes(), b',', 10, true);
        assert_eq!(recs[1][0], "x, \"y\"");
        assert_eq!(recs[2][0], "multi\nline");
        assert_eq!(recs[3][0], "Big 5\" Cola");
        assert_eq!(recs[4], vec!["9", "10", "11"]);
        let again = requote(text.as_bytes(), b',');
        assert_eq!(records(&again, b',', 10, true), recs);
    }

    #[test]
    fn the_first_ragged_record_is_named_by_line() {
        let text = "a,b\n1,2\n\n3,4,5\n6\n";
        assert_eq!(
            check(text, b',', 1000),
            (
                3,
                Some(Ragged {
                    line: 4,
                    lines: 1,
                    found: 3,
                    expected: 2
                })
            )
        );
        let open_quote = "a,b\n1,2\n\"3,4\n5,6\n";
        let (_, bad) = check(open_quote, b',', 1000);
        assert_eq!(bad.map(|r| (r.line, r.found, r.lines > 1)), Some((3, 1, true)));
    }

    #[test]
    fn the_delimiter_is_sniffed_from_agreeing_records() {
        let semi = b"Marke;Umsatz;Menge\nCola;1.234,56;10\nWasser;99,5;3\n";
        assert_eq!(sniff_delimiter(semi, true), b';');
        let tab = b"brand\trevenue\nA, Inc\t1\nB\t2\n";
        assert_eq!(sniff_delimiter(tab, true), b'\t');
        let pipe = b"brand|revenue|units\nA|1|2\n";
        assert_eq!(sniff_delimiter(pipe, true), b'|');
        let comma = b"brand,revenue\n\"A; B\",1\n";
        assert_eq!(sniff_delimiter(comma, true), b',');
        assert_eq!(sniff_delimiter(b"just one column\nx\n", true), b',');
    }
}
