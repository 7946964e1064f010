//! Logical decoding messages (`pg_logical_emit_message`) as Debezium's `op: m` events.

use tributary_core::event::now_us;
use tributary_core::{BatchSender, CaptureItem, MessageEvent, SnapshotMarker, SourceInfo};

use super::{ChangeStream, send};
use crate::error::SourceError;
use crate::pgoutput::LogicalMessage;

impl ChangeStream {
    /// A logical decoding message, as Debezium emits it on `<prefix>.message` when its
    /// prefix passes `message.prefix.include/exclude.list`. A transactional one is an event
    /// of its transaction; any other stands alone, outside transactions, and its position
    /// becomes the offset (a restart skips it and everything before it).
    pub(super) async fn logical_message(
        &mut self,
        m: LogicalMessage,
        out: &mut BatchSender,
    ) -> Result<(), SourceError> {
        let standalone = !m.transactional;
        if (standalone && self.resume_after.is_some_and(|r| m.lsn <= r)) || self.skipping() {
            return Ok(());
        }
        if standalone {
            // Debezium commits a standalone message's position before it filters and
            // emits it.
            self.last_commit = Some(m.lsn);
        }
        if !self.config.message_prefixes.accepts(&m.prefix) {
            return Ok(());
        }
        let (tx_id, ts_us) = match self.tx.as_mut().filter(|_| !standalone) {
            Some(tx) => {
                tx.events += 1;
                (Some(i64::from(tx.begin.xid)), tx.begin.commit_ts_us)
            }
            None => (None, now_us()),
        };
        let message = MessageEvent {
            topic: self.message_topic.clone(),
            prefix: m.prefix,
            content: crate::types::binary(m.content.to_vec(), self.config.type_modes.binary),
            source: SourceInfo {
                name: self.prefix.clone(),
                db: self.db.clone(),
                schema: "".into(),
                table: "".into(),
                ts_us,
                snapshot: SnapshotMarker::False,
                tx_id,
                lsn: Some(m.lsn),
                sequence: Some((self.last_commit, Some(m.lsn))),
                xmin: None,
            },
            ts_us: now_us(),
        };
        send(out, CaptureItem::Message(message)).await?;
        if standalone {
            self.offset.lsn = Some(m.lsn);
            out.push_now(CaptureItem::Checkpoint {
                offset: self.offset.to_json(),
            })
            .await
            .map_err(|_| SourceError::Closed)?;
        }
        Ok(())
    }
}
