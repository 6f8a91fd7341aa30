//! How every spool file stores its records: a frame of magic, payload length and a CRC-32
//! of both, then the payload. A reader can tell a sound record, a damaged one whose
//! frame still holds (its payload fails the checksum: skip exactly it), and a frame that
//! is itself broken (where the rest of the file can only be found again by searching for
//! the next sound frame).

/// Marks the start of every frame: finding the next record in damaged bytes starts here.
pub(super) const MAGIC: [u8; 4] = *b"EMsp";
/// Magic, length, checksum.
pub(super) const HEADER: usize = 12;
/// No record is larger (an event is at most a few hundred KiB; a batch of settles or a
/// dead letter much less): a length past this is a damaged frame, not a huge record.
pub(super) const MAX_PAYLOAD: usize = 64 << 20;

/// Appends one framed record holding `payload` to `out`.
pub(super) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let len_bytes = len.to_le_bytes();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&checksum(&len_bytes, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The CRC-32 of the length field and the payload: a damaged length is caught too.
fn checksum(len_bytes: &[u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len_bytes);
    hasher.update(payload);
    hasher.finalize()
}

/// What lies at one offset of a file's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame<'a> {
    /// A sound record; the next frame starts at `next`.
    Sound { payload: &'a [u8], next: usize },
    /// The frame holds (magic, a plausible length within the file, and a sound frame or
    /// the file's end right after it) but the checksum fails: this record is damaged,
    /// the next one starts at `next`.
    Damaged { payload: &'a [u8], next: usize },
    /// No frame can be read here: the bytes from here are a torn write or damage.
    Broken,
    /// The end of the bytes.
    End,
}

/// Reads the frame at `at` in `bytes`.
pub(super) fn read(bytes: &[u8], at: usize) -> Frame<'_> {
    if at >= bytes.len() {
        return Frame::End;
    }
    let Some((payload, next, sound)) = frame_at(bytes, at) else {
        return Frame::Broken;
    };
    if sound {
        return Frame::Sound { payload, next };
    }
    // A bad checksum with a frame that leads exactly to the end or to another sound
    // frame: the damage is inside this record. Anything else may be a damaged length.
    let followed = next == bytes.len() || matches!(frame_at(bytes, next), Some((_, _, true)));
    if followed {
        Frame::Damaged { payload, next }
    } else {
        Frame::Broken
    }
}

/// The frame at `at`: its payload, where the next starts, and whether its checksum holds;
/// `None` when there is no magic or the length runs past the bytes.
fn frame_at(bytes: &[u8], at: usize) -> Option<(&[u8], usize, bool)> {
    let header = bytes.get(at..at.checked_add(HEADER)?)?;
    if header[..4] != MAGIC {
        return None;
    }
    let len_bytes: [u8; 4] = header[4..8].try_into().ok()?;
    let stored: [u8; 4] = header[8..12].try_into().ok()?;
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    if len > MAX_PAYLOAD {
        return None;
    }
    let start = at + HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    let sound = checksum(&len_bytes, payload) == u32::from_le_bytes(stored);
    Some((payload, start + len, sound))
}

/// The offset of the next sound frame after `at` (searching byte by byte for the magic),
/// if there is one: where reading can go on past damage.
pub(super) fn resync(bytes: &[u8], at: usize) -> Option<usize> {
    let mut from = at.checked_add(1)?;
    while from + HEADER <= bytes.len() {
        let found = memchr_magic(&bytes[from..])?;
        let candidate = from + found;
        if matches!(frame_at(bytes, candidate), Some((_, _, true))) {
            return Some(candidate);
        }
        from = candidate + 1;
    }
    None
}

fn memchr_magic(bytes: &[u8]) -> Option<usize> {
    bytes.windows(MAGIC.len()).position(|w| w == MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    fn offsets(bytes: &[u8]) -> Vec<usize> {
        let mut at = 0;
        let mut out = Vec::new();
        while let Frame::Sound { next, .. } = read(bytes, at) {
            out.push(at);
            at = next;
        }
        out
    }

    #[test]
    fn sound_records_read_back_in_order() {
        let bytes = file(&[b"one", b"", b"three"]);
        let mut at = 0;
        let mut seen = Vec::new();
        loop {
            match read(&bytes, at) {
                Frame::Sound { payload, next } => {
                    seen.push(payload.to_vec());
                    at = next;
                }
                Frame::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, [b"one".to_vec(), vec![], b"three".to_vec()]);
    }

    #[test]
    fn a_flipped_payload_byte_is_damage_inside_one_record() {
        let mut bytes = file(&[b"first", b"second", b"third"]);
        let second = offsets(&bytes)[1];
        bytes[second + HEADER + 2] ^= 0x20;
        let Frame::Damaged { next, .. } = read(&bytes, second) else {
            panic!("{:?}", read(&bytes, second));
        };
        assert!(matches!(
            read(&bytes, next),
            Frame::Sound {
                payload: b"third",
                ..
            }
        ));
    }

    #[test]
    fn a_damaged_length_or_magic_breaks_the_frame_and_resync_finds_the_next() {
        for byte in [0, 5] {
            let mut bytes = file(&[b"first", b"second", b"third"]);
            let at = offsets(&bytes);
            bytes[at[1] + byte] ^= 0x40;
            assert_eq!(read(&bytes, at[1]), Frame::Broken, "byte {byte}");
            assert_eq!(resync(&bytes, at[1]), Some(at[2]), "byte {byte}");
        }
    }

    #[test]
    fn a_torn_tail_is_broken_with_nothing_after_it() {
        let bytes = file(&[b"first", b"second"]);
        let torn = &bytes[..bytes.len() - 3];
        let at = offsets(&bytes)[1];
        assert_eq!(read(torn, at), Frame::Broken);
        assert_eq!(resync(torn, at), None);
        let zeros = [bytes.clone(), vec![0; 4096]].concat();
        assert_eq!(read(&zeros, bytes.len()), Frame::Broken);
    }
}
