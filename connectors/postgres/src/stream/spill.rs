//! Spill files for streamed (protocol v2) transactions.
//!
//! Postgres sends a large transaction in blocks before it commits. Each block's raw
//! pgoutput messages are appended to an anonymous temporary file of the transaction
//! (deleted by the OS when closed) as `[wal_start u64][len u32][bytes]`, and read back in
//! order when the transaction commits. Subtransactions aborted in between are remembered
//! so their changes are skipped on replay.

use std::collections::HashSet;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use tributary_core::Lsn;

/// The spilled messages of one streamed transaction.
#[derive(Default)]
pub(super) struct Spill {
    file: Option<BufWriter<std::fs::File>>,
    aborted: HashSet<u32>,
}

impl Spill {
    /// Appends one message.
    pub(super) fn append(&mut self, lsn: Lsn, data: &[u8]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)),
        };
        file.write_all(&lsn.0.to_le_bytes())?;
        file.write_all(&(data.len() as u32).to_le_bytes())?;
        file.write_all(data)
    }

    /// Records that a subtransaction aborted: its changes are dropped on replay.
    pub(super) fn abort_subxact(&mut self, subxid: u32) {
        self.aborted.insert(subxid);
    }

    pub(super) fn is_aborted(&self, xid: u32) -> bool {
        self.aborted.contains(&xid)
    }

    /// A reader of the spilled messages from the start.
    pub(super) fn reader(&mut self) -> std::io::Result<Option<SpillReader>> {
        let Some(file) = self.file.take() else {
            return Ok(None);
        };
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Some(SpillReader(BufReader::with_capacity(1 << 16, file))))
    }
}

pub(super) struct SpillReader(BufReader<std::fs::File>);

impl SpillReader {
    /// The next spilled message, or `None` at the end.
    pub(super) fn next_message(&mut self) -> std::io::Result<Option<(Lsn, Bytes)>> {
        let mut head = [0u8; 12];
        match self.0.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut lsn = [0u8; 8];
        lsn.copy_from_slice(&head[..8]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&head[8..]);
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        self.0.read_exact(&mut buf)?;
        Ok(Some((Lsn(u64::from_le_bytes(lsn)), Bytes::from(buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_messages_come_back_in_order() {
        let mut spill = Spill::default();
        assert!(spill.reader().unwrap().is_none());
        spill.append(Lsn(1), b"first").unwrap();
        spill.append(Lsn(2), b"").unwrap();
        spill.append(Lsn(3), &[7u8; 100_000]).unwrap();
        spill.abort_subxact(9);
        let mut r = spill.reader().unwrap().unwrap();
        assert_eq!(
            r.next_message().unwrap(),
            Some((Lsn(1), Bytes::from_static(b"first")))
        );
        assert_eq!(r.next_message().unwrap(), Some((Lsn(2), Bytes::new())));
        assert_eq!(r.next_message().unwrap().unwrap().1.len(), 100_000);
        assert_eq!(r.next_message().unwrap(), None);
        assert!(spill.is_aborted(9) && !spill.is_aborted(1));
    }
}
