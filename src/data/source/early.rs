//! A small CSV parsed whole from its first MiB's dialect while the scan hashes and
//! checks the rest; kept only when the scan finds what the parse assumed.

use std::path::Path;

use polars::prelude::*;

use super::scan::TextHead;
use super::{Scan, Stamp, csv_options};

/// A whole CSV file's parse, started from its first MiB before the scan has hashed and
/// checked the rest, so the two run side by side; used only when the scan then finds what
/// the parse assumed.
pub struct EarlyParse {
    delimiter: u8,
    stamp: Stamp,
    parse: std::thread::JoinHandle<PolarsResult<DataFrame>>,
}

impl EarlyParse {
    /// Starts parsing `path` on a thread of its own, as [`read_csv`] reads a whole file,
    /// when its first MiB looks like UTF-8 CSV text (no other format, no UTF-16 mark, no
    /// NUL byte); `None` otherwise.
    pub fn start(path: &Path) -> Option<EarlyParse> {
        let TextHead { stamp, delimiter, .. } = TextHead::read(path)?;
        if delimiter == b';' {
            // Where `;` separates fields, `,` often marks decimals: such a file is read as
            // text and converted, so a typed parse now would be done twice.
            return None;
        }
        let owned = path.to_path_buf();
        let parse = std::thread::spawn(move || {
            csv_options(delimiter, false)
                .try_into_reader_with_file_path(Some(owned))?
                .finish()
        });
        Some(EarlyParse {
            delimiter,
            stamp,
            parse,
        })
    }

    /// The parsed frame, when `scan` found what the parse assumed: the file unchanged
    /// since the parse began, UTF-8, this delimiter; and the parse succeeded (the reader's
    /// own path then handles what it did not). Waits for the parse; otherwise leaves it to
    /// finish on its own.
    pub fn take(self, scan: &Scan) -> Option<DataFrame> {
        let csv = scan.csv.as_ref()?;
        if scan.stamp != self.stamp || csv.transcoded.is_some() || csv.delimiter != self.delimiter {
            return None;
        }
        self.parse.join().ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::source::SNIFF_BYTES;
    use std::io::Write;

    fn file(content: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        f.write_all(content).unwrap();
        f
    }

    #[test]
    fn only_what_looks_like_utf8_csv_text_is_parsed_early() {
        let plain = file(b"brand,profit\nA,1.5\n");
        assert!(EarlyParse::start(plain.path()).is_some());
        let refused: [&[u8]; 7] = [
            b"",
            b"{\"brand\": \"A\"}\n",
            b"  [1, 2]\n",
            b"brand,profit\nA\0,1\n",
            b"\xFF\xFEb\0r\0a\0n\0d\0\n\0",
            b"PAR1....",
            // `;` files often write decimal commas: read after the scan instead.
            b"brand;profit\nA;1,5\n",
        ];
        for content in refused {
            let f = file(content);
            assert!(
                EarlyParse::start(f.path()).is_none(),
                "{:?}",
                String::from_utf8_lossy(content)
            );
        }
        let mut long_header = vec![b'a'; SNIFF_BYTES + 10];
        long_header.push(b'\n');
        assert!(EarlyParse::start(file(&long_header).path()).is_none());
    }
}
