//! The spool's tables in one redb file, and the few operations on them. Everything here
//! runs inside one write transaction given by the group-commit writer, or in a read
//! transaction of the delivery side.

use std::fs::{DirBuilder, OpenOptions};
use std::path::Path;

use redb::backends::FileBackend;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use super::SpoolError;

/// Accepted events by sequence number: (received at, epoch ms; the enriched event's JSON).
pub(super) const EVENTS: TableDefinition<u64, (u64, &[u8])> = TableDefinition::new("events");
/// `messageId` → when it was accepted (epoch ms), for the dedup window.
pub(super) const SEEN: TableDefinition<&str, u64> = TableDefinition::new("seen");
/// The same ids in the order they were accepted, so the window can be pruned from the
/// front without a scan: accepted-at ms and a tiebreak → `messageId`.
pub(super) const SEEN_ORDER: TableDefinition<(u64, u64), &str> = TableDefinition::new("seen_order");
/// Dead letters by sequence number: (dead-lettered at, epoch ms; the record's JSON).
pub(super) const DEAD: TableDefinition<u64, (u64, &[u8])> = TableDefinition::new("dead");

/// The database file's name inside the spool directory.
pub(super) const FILE_NAME: &str = "spool.redb";

/// Opens (or creates) the spool: the directory 0700, the file 0600, as they hold
/// personal data.
pub(super) fn open(dir: &Path) -> Result<Database, SpoolError> {
    let io = |e: std::io::Error| SpoolError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io)?;
    let path = dir.join(FILE_NAME);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(io)?;
    #[cfg(unix)]
    {
        // Tighten what an earlier version or a hand-made directory left looser.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    let backend = FileBackend::new(file).map_err(redb::Error::from)?;
    let db = Database::builder()
        .create_with_backend(backend)
        .map_err(redb::Error::from)?;
    let txn = db.begin_write().map_err(redb::Error::from)?;
    {
        txn.open_table(EVENTS).map_err(redb::Error::from)?;
        txn.open_table(SEEN).map_err(redb::Error::from)?;
        txn.open_table(SEEN_ORDER).map_err(redb::Error::from)?;
        txn.open_table(DEAD).map_err(redb::Error::from)?;
    }
    txn.commit().map_err(redb::Error::from)?;
    Ok(db)
}

/// What the store holds when it is opened: the counters the writer keeps from then on.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Totals {
    pub depth: u64,
    pub bytes: u64,
    pub next_event: u64,
    pub next_dead: u64,
    pub dead: u64,
}

pub(super) fn totals(db: &Database) -> Result<Totals, redb::Error> {
    let txn = db.begin_read()?;
    let events = txn.open_table(EVENTS)?;
    let mut totals = Totals::default();
    for entry in events.iter()? {
        let (seq, event) = entry?;
        totals.depth += 1;
        totals.bytes += event.value().1.len() as u64;
        totals.next_event = seq.value() + 1;
    }
    let dead = txn.open_table(DEAD)?;
    if let Some((seq, _)) = dead.last()? {
        totals.next_dead = seq.value() + 1;
    }
    totals.dead = redb::ReadableTableMetadata::len(&dead)?;
    Ok(totals)
}

/// Forgets ids accepted before `before_ms`.
pub(super) fn forget_before(txn: &WriteTransaction, before_ms: u64) -> Result<(), redb::Error> {
    let mut order = txn.open_table(SEEN_ORDER)?;
    let mut seen = txn.open_table(SEEN)?;
    let old: Vec<((u64, u64), String)> = order
        .range(..(before_ms, 0))?
        .map(|entry| entry.map(|(k, v)| (k.value(), v.value().to_string())))
        .collect::<Result<_, _>>()?;
    for (key, id) in old {
        order.remove(key)?;
        // A later acceptance of the same id keeps it (its time is newer).
        let stale = seen
            .get(id.as_str())?
            .is_some_and(|at| at.value() < before_ms);
        if stale {
            seen.remove(id.as_str())?;
        }
    }
    Ok(())
}

/// Drops dead letters recorded before `before_ms`; returns how many.
pub(super) fn drop_dead_before(txn: &WriteTransaction, before_ms: u64) -> Result<u64, redb::Error> {
    let mut dead = txn.open_table(DEAD)?;
    let mut dropped = 0;
    // Sequence order is time order, so the old ones are at the front.
    loop {
        let old = match dead.first()? {
            Some((_, value)) => value.value().0 < before_ms,
            None => false,
        };
        if !old {
            break;
        }
        dead.pop_first()?;
        dropped += 1;
    }
    Ok(dropped)
}
