//! Block I/O: a CSV file's whole records in blocks of about a batch's bytes, each led by
//! the header line so it parses as a file of its own.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::data::csv::{last_record_end, records_to};
use crate::data::error::DataError;
use crate::data::source::unreadable;

/// Whole records of a CSV file in blocks of about `block` bytes, each led by the header
/// line, so each parses as a file of its own.
pub(super) struct RecordBlocks {
    file: File,
    /// The header line each block is led by.
    header: Vec<u8>,
    /// Bytes of the file in blocks since [`take_consumed`](Self::take_consumed) last
    /// counted them (the header's at first).
    consumed: u64,
    delimiter: u8,
    block: usize,
    /// Bytes read past the last whole record of the previous block.
    carry: Vec<u8>,
    done: bool,
}

impl RecordBlocks {
    /// Blocks of the file at `path`, whose header record ends within `head_bytes` bytes.
    pub(super) fn open(path: &Path, head_bytes: usize, delimiter: u8, block: usize) -> Result<RecordBlocks, DataError> {
        let mut file = File::open(path).map_err(|e| unreadable(path, e))?;
        let mut head = Vec::new();
        (&mut file)
            .take(head_bytes as u64 + 4)
            .read_to_end(&mut head)
            .map_err(|e| unreadable(path, e))?;
        let (_, header_end) = records_to(&head, delimiter, 1, false);
        if header_end == 0 {
            // No line ends the header: the file is its header alone.
            return Err(DataError::NoRows {
                path: path.to_path_buf(),
            });
        }
        let mut header = head[..header_end].to_vec();
        while header.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            header.pop();
        }
        header.push(b'\n');
        // csv-core ends a CRLF header at its `\r`: the `\n` is the header's too.
        let header_end = header_end + usize::from(head.get(header_end) == Some(&b'\n'));
        file.seek(SeekFrom::Start(header_end as u64))
            .map_err(|e| unreadable(path, e))?;
        Ok(RecordBlocks {
            file,
            header,
            consumed: header_end as u64,
            delimiter,
            block: block.max(1),
            carry: Vec::new(),
            done: false,
        })
    }

    /// The next block: the header, then whole records; `None` past the end. Read into
    /// the block's own buffer after the header, so no block is copied: into `reuse` when
    /// given (a parsed block's, handed back), whose pages are then written again rather
    /// than a new buffer's faulted in and zeroed (a tenth of a million-row load).
    pub(super) fn next_block(&mut self, reuse: Option<Vec<u8>>) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let body = self.header.len();
        let mut out = reuse.unwrap_or_default();
        out.clear();
        out.reserve(body + self.carry.len() + self.block);
        out.extend_from_slice(&self.header);
        out.append(&mut self.carry);
        loop {
            let before = out.len();
            (&mut self.file).take(self.block as u64).read_to_end(&mut out)?;
            if out.len() - before < self.block {
                self.done = true;
                self.consumed += (out.len() - body) as u64;
                if out[body..].iter().all(|b| b.is_ascii_whitespace()) {
                    return Ok(None);
                }
                return Ok(Some(out));
            }
            // A record longer than a block: read on until one ends.
            if let Some(end) = last_record_end(&out[body..], self.delimiter) {
                self.carry = out[body + end..].to_vec();
                out.truncate(body + end);
                self.consumed += end as u64;
                return Ok(Some(out));
            }
        }
    }

    /// Bytes of the file given in blocks since the last call.
    pub(super) fn take_consumed(&mut self) -> u64 {
        std::mem::take(&mut self.consumed)
    }
}
