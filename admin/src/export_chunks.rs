//! Splits an export in JSON Lines into chunks for the AWS import (docs/deploy.md): each chunk is
//! the export's `exportedAt` line and the next `per_chunk` account lines, as the billing system
//! wrote them (a malformed line is passed on and reported by the import of its chunk).

use std::io::{self, BufRead, Write};

/// Writes the chunks of `reader` to the writers `open(1)`, `open(2)`, …; returns how many.
pub fn split<W: Write>(
    reader: impl BufRead,
    per_chunk: usize,
    mut open: impl FnMut(usize) -> io::Result<W>,
) -> Result<usize, String> {
    let mut lines = reader.lines();
    let header = match lines.next() {
        Some(line) => line.map_err(|e| e.to_string())?,
        None => return Err("the export is empty".to_owned()),
    };
    if !header.trim_start().starts_with('{') || !header.contains("\"exportedAt\"") || header.contains("\"accounts\"") {
        return Err("line 1: a chunked export is JSON Lines, its first line {\"exportedAt\": …}".to_owned());
    }
    let mut chunks = 0;
    let mut current: Option<(W, usize)> = None;
    for line in lines {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let (out, count) = match current.as_mut() {
            Some(open_chunk) if open_chunk.1 < per_chunk.max(1) => open_chunk,
            _ => {
                if let Some((mut done, _)) = current.take() {
                    done.flush().map_err(|e| e.to_string())?;
                }
                chunks += 1;
                let mut out = open(chunks).map_err(|e| format!("chunk {chunks}: {e}"))?;
                writeln!(out, "{header}").map_err(|e| e.to_string())?;
                current.insert((out, 0))
            }
        };
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
        *count += 1;
    }
    if let Some((mut done, _)) = current {
        done.flush().map_err(|e| e.to_string())?;
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk written in memory, readable after `split` is done with it.
    #[derive(Clone, Default)]
    struct Chunk(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Chunk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn given_five_accounts_when_split_by_two_then_three_chunks_each_with_the_export_date() {
        let header = "{\"exportedAt\":\"2026-11-01T00:00:00Z\"}";
        let export = format!("{header}\na\nb\n\nc\nd\ne\n");
        let mut chunks = Vec::new();
        let count = split(export.as_bytes(), 2, |i| {
            assert_eq!(i, chunks.len() + 1);
            let chunk = Chunk::default();
            chunks.push(chunk.clone());
            Ok(chunk)
        })
        .unwrap();
        assert_eq!(count, 3);
        let texts: Vec<String> = chunks.iter().map(|c| String::from_utf8(c.0.borrow().clone()).unwrap()).collect();
        assert_eq!(texts, [format!("{header}\na\nb\n"), format!("{header}\nc\nd\n"), format!("{header}\ne\n")]);
    }

    #[test]
    fn given_a_single_document_when_split_then_it_is_refused() {
        let document = "{\"exportedAt\":\"2026-11-01T00:00:00Z\", \"accounts\": []}\n";
        assert!(split(document.as_bytes(), 2, |_| Ok(Vec::new())).unwrap_err().contains("JSON Lines"));
    }
}
