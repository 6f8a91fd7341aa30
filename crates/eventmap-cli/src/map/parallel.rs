//! `map --threads N`: N workers take turns cutting the input into chunks of lines and
//! map them, and the calling thread writes their output in input order. Memory stays
//! bounded: reading may run at most `IN_FLIGHT_PER_THREAD × N` chunks ahead of what has
//! been written. Each line goes through the same [`LineMapper`] as the sequential
//! run, so the output is the same byte for byte.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Mutex, PoisonError};

use super::line::{LineMapper, Produced};
use super::sink::{Sink, Stop};
use crate::input::{InputError, Next, Source};

/// Lines a chunk holds at most.
const CHUNK_LINES: usize = 512;
/// Bytes of input a chunk holds at most (a chunk closes after the line that passes it).
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks read ahead per worker.
const IN_FLIGHT_PER_THREAD: usize = 2;

/// Buffers handed back for the next chunk, so that a chunk is read into one that has its
/// size already: a new one grew from 64 KiB to 1 MiB by doubling, copying what it held
/// each time, and its pages were faulted in afresh (docs/benchmarks.md). At most one a
/// chunk in flight is kept, as many as are in use at once.
struct Spares(Mutex<Vec<Vec<u8>>>);

impl Spares {
    fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// An empty buffer: a spare one, or a new one of `capacity`.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let spare = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        spare.unwrap_or_else(|| Vec::with_capacity(capacity))
    }

    fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
    }
}

struct RawLine {
    line_no: u64,
    next: Next,
    start: usize,
    end: usize,
}

/// Lines of one input, in order.
struct Chunk {
    seq: u64,
    input: usize,
    data: Vec<u8>,
    lines: Vec<RawLine>,
    /// Closed because the input had nothing more read (a pipe waiting for its writer):
    /// its output is flushed once written, so a slow stream's events are not held back.
    caught_up: bool,
}

/// What the reader sends: work, or where an input failed.
enum Work {
    Chunk(Chunk),
    Failed {
        seq: u64,
        input: usize,
        line: u64,
        error: InputError,
    },
}

/// A mapped chunk.
struct Done {
    seq: u64,
    produced: Produced,
    caught_up: bool,
    /// Where it ended (input, line), or where its input failed.
    at: (usize, u64),
    failed: Option<InputError>,
}

pub(super) fn run(
    mapper: &LineMapper<'_>,
    inputs: &[String],
    threads: usize,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let in_flight = IN_FLIGHT_PER_THREAD * threads;
    let (credit_tx, credit_rx) = sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = credit_tx.send(());
    }
    let (lines_read, lines_mapped) = (Spares::new(), Spares::new());
    let reader = Mutex::new(Reader::new(
        inputs,
        mapper.max_line_bytes,
        credit_rx,
        &lines_read,
    ));
    let (done_tx, done_rx) = channel::<Done>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (reader, done_tx) = (&reader, done_tx.clone());
            let spares = (&lines_read, &lines_mapped);
            scope.spawn(move || map_chunks(mapper, inputs, reader, spares, &done_tx));
        }
        drop(done_tx);
        let written = write_in_order(&done_rx, &credit_tx, inputs, &lines_mapped, sink);
        // Stop the workers (they wait for credits or for the writer).
        drop(credit_tx);
        drop(done_rx);
        written
    })
}

/// The inputs, cut into chunks by whichever worker is free. Reading takes turns under a
/// lock rather than running on a thread of its own: with as many workers as cores, a
/// reading thread took its time from them (docs/benchmarks.md).
struct Reader<'i> {
    inputs: &'i [String],
    /// Buffers of chunks already mapped, to read the next ones into.
    spares: &'i Spares,
    max: usize,
    /// A chunk may be read only with a credit: one comes back for each chunk written.
    credits: Receiver<()>,
    /// The input being read: its index and its source.
    current: Option<(usize, Source)>,
    next_input: usize,
    line_no: u64,
    seq: u64,
    /// An input's failure, sent after the chunk read before it.
    failed: Option<Work>,
    finished: bool,
}

impl<'i> Reader<'i> {
    fn new(inputs: &'i [String], max: usize, credits: Receiver<()>, spares: &'i Spares) -> Self {
        Self {
            inputs,
            spares,
            max,
            credits,
            current: None,
            next_input: 0,
            line_no: 0,
            seq: 0,
            failed: None,
            finished: false,
        }
    }

    /// The next chunk or failure, once a credit allows it; `None` at the end of the
    /// inputs, after a failure, or once the writer has stopped.
    fn next(&mut self) -> Option<Work> {
        if self.finished || self.credits.recv().is_err() {
            return None;
        }
        if let Some(failed) = self.failed.take() {
            self.finished = true;
            return Some(failed);
        }
        loop {
            let (index, source) = match &mut self.current {
                Some((index, source)) => (*index, source),
                None => {
                    let index = self.next_input;
                    let name = self.inputs.get(index)?;
                    self.next_input += 1;
                    match Source::open(name) {
                        Ok(source) => {
                            self.line_no = 0;
                            self.current = Some((index, source));
                            continue;
                        }
                        Err(error) => {
                            self.finished = true;
                            let (seq, line) = (self.seq, 1);
                            return Some(Work::Failed {
                                seq,
                                input: index,
                                line,
                                error,
                            });
                        }
                    }
                }
            };
            let mut chunk = Chunk {
                seq: self.seq,
                input: index,
                data: self.spares.take(64 << 10),
                lines: Vec::with_capacity(CHUNK_LINES),
                caught_up: false,
            };
            loop {
                let start = chunk.data.len();
                let next = source.append_line(&mut chunk.data, self.max);
                self.line_no += 1;
                let next = match next {
                    Ok(Next::End) => break,
                    Ok(next) => next,
                    Err(error) => {
                        // What was read before the failure is still mapped and written.
                        self.failed = Some(Work::Failed {
                            seq: self.seq + 1,
                            input: index,
                            line: self.line_no,
                            error,
                        });
                        self.seq += 1;
                        return Some(Work::Chunk(chunk));
                    }
                };
                chunk.lines.push(RawLine {
                    line_no: self.line_no,
                    next,
                    start,
                    end: chunk.data.len(),
                });
                let caught_up = !source.has_buffered();
                if chunk.lines.len() >= CHUNK_LINES || chunk.data.len() >= CHUNK_BYTES || caught_up
                {
                    chunk.caught_up = caught_up;
                    self.seq += 1;
                    return Some(Work::Chunk(chunk));
                }
            }
            // The input ended; its last lines go before the next input is opened.
            self.current = None;
            if !chunk.lines.is_empty() {
                self.seq += 1;
                return Some(Work::Chunk(chunk));
            }
        }
    }
}

/// `spares`: the buffers chunks are read into, and those their output is written into.
fn map_chunks(
    mapper: &LineMapper<'_>,
    inputs: &[String],
    reader: &Mutex<Reader<'_>>,
    spares: (&Spares, &Spares),
    done: &Sender<Done>,
) {
    let (lines_read, lines_mapped) = spares;
    loop {
        let next = reader.lock().unwrap_or_else(PoisonError::into_inner).next();
        let finished = match next {
            None => return,
            Some(Work::Failed {
                seq,
                input,
                line,
                error,
            }) => Done {
                seq,
                produced: Produced::default(),
                caught_up: false,
                at: (input, line),
                failed: Some(error),
            },
            Some(Work::Chunk(chunk)) => {
                let out = lines_mapped.take(chunk.data.len());
                let (mapped, data) = map_chunk(mapper, inputs, chunk, out);
                lines_read.give(data);
                mapped
            }
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

/// Maps `chunk` into `out`; gives back the chunk's buffer, for the next one.
fn map_chunk(
    mapper: &LineMapper<'_>,
    inputs: &[String],
    chunk: Chunk,
    out: Vec<u8>,
) -> (Done, Vec<u8>) {
    let name = &inputs[chunk.input];
    let mut produced = Produced {
        out,
        ..Produced::default()
    };
    let mut last = 0;
    for line in &chunk.lines {
        let bytes = &chunk.data[line.start..line.end];
        mapper.line(name, line.line_no, &line.next, bytes, &mut produced);
        last = line.line_no;
    }
    let done = Done {
        seq: chunk.seq,
        produced,
        caught_up: chunk.caught_up,
        at: (chunk.input, last),
        failed: None,
    };
    (done, chunk.data)
}

/// Writes chunks as their turn comes; a chunk written gives its credit back, and its
/// output buffer to `spares`.
fn write_in_order(
    done: &Receiver<Done>,
    credits: &SyncSender<()>,
    inputs: &[String],
    spares: &Spares,
    sink: &mut Sink<'_>,
) -> Result<(), Stop> {
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next_seq = 0;
    while let Ok(finished) = done.recv() {
        waiting.insert(finished.seq, finished);
        while let Some(ready) = waiting.remove(&next_seq) {
            next_seq += 1;
            let (input, line) = ready.at;
            sink.at = Some((inputs[input].clone(), line));
            if let Some(error) = ready.failed {
                return Err(Stop::Failed(error.into()));
            }
            sink.write_chunk(&ready.produced)?;
            if ready.caught_up {
                sink.flush_output()?;
            }
            spares.give(ready.produced.out);
            let _ = credits.try_send(());
        }
    }
    Ok(())
}
