//! `map --threads N`: a reading thread cuts the input into chunks of lines, N workers
//! map chunks, and the calling thread writes their output in input order. Memory stays
//! bounded: the reader may run at most `IN_FLIGHT_PER_THREAD × N` chunks ahead of what
//! has been written. Each line goes through the same [`LineMapper`] as the sequential
//! run, so the output is the same byte for byte.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};

use super::line::{LineMapper, Produced};
use super::{Sink, Stop};
use crate::input::{InputError, Next, Source};

/// Lines a chunk holds at most.
const CHUNK_LINES: usize = 512;
/// Bytes of input a chunk holds at most (a chunk closes after the line that passes it).
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks read ahead per worker.
const IN_FLIGHT_PER_THREAD: usize = 4;

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
    let (work_tx, work_rx) = sync_channel::<Work>(in_flight);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = channel::<Done>();
    let max = mapper.max_line_bytes;
    std::thread::scope(|scope| {
        let reading = inputs.to_vec();
        scope.spawn(move || read(&reading, max, &credit_rx, &work_tx));
        for _ in 0..threads {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            scope.spawn(move || map_chunks(mapper, inputs, &work_rx, &done_tx));
        }
        drop(done_tx);
        let written = write_in_order(&done_rx, &credit_tx, inputs, sink);
        // Stop the reader (it waits for credits) and the workers (they wait for work).
        drop(credit_tx);
        drop(done_rx);
        written
    })
}

fn read(inputs: &[String], max: usize, credits: &Receiver<()>, work: &SyncSender<Work>) {
    let mut seq = 0;
    for (index, name) in inputs.iter().enumerate() {
        let mut source = match Source::open(name) {
            Ok(source) => source,
            Err(error) => {
                let _ = credits.recv();
                let _ = work.send(Work::Failed {
                    seq,
                    input: index,
                    line: 1,
                    error,
                });
                return;
            }
        };
        let mut line_no = 0u64;
        let mut chunk = new_chunk(seq, index);
        loop {
            let start = chunk.data.len();
            let next = source.append_line(&mut chunk.data, max);
            line_no += 1;
            let next = match next {
                Ok(Next::End) => break,
                Ok(next) => next,
                Err(error) => {
                    // What was read before the failure is still mapped and written.
                    if !send(chunk, credits, work) || credits.recv().is_err() {
                        return;
                    }
                    let _ = work.send(Work::Failed {
                        seq: seq + 1,
                        input: index,
                        line: line_no,
                        error,
                    });
                    return;
                }
            };
            chunk.lines.push(RawLine {
                line_no,
                next,
                start,
                end: chunk.data.len(),
            });
            let caught_up = !source.has_buffered();
            if chunk.lines.len() >= CHUNK_LINES || chunk.data.len() >= CHUNK_BYTES || caught_up {
                chunk.caught_up = caught_up;
                if !send(chunk, credits, work) {
                    return;
                }
                seq += 1;
                chunk = new_chunk(seq, index);
            }
        }
        if !chunk.lines.is_empty() {
            if !send(chunk, credits, work) {
                return;
            }
            seq += 1;
        }
    }
}

fn new_chunk(seq: u64, input: usize) -> Chunk {
    Chunk {
        seq,
        input,
        data: Vec::with_capacity(64 << 10),
        lines: Vec::with_capacity(CHUNK_LINES),
        caught_up: false,
    }
}

/// Waits for room, then hands the chunk over; false once the writer has stopped.
fn send(chunk: Chunk, credits: &Receiver<()>, work: &SyncSender<Work>) -> bool {
    credits.recv().is_ok() && work.send(Work::Chunk(chunk)).is_ok()
}

fn map_chunks(
    mapper: &LineMapper<'_>,
    inputs: &[String],
    work: &Mutex<Receiver<Work>>,
    done: &Sender<Done>,
) {
    loop {
        let next = work.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let finished = match next {
            Err(_) => return, // The reader is done.
            Ok(Work::Failed {
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
            Ok(Work::Chunk(chunk)) => map_chunk(mapper, inputs, chunk),
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

fn map_chunk(mapper: &LineMapper<'_>, inputs: &[String], chunk: Chunk) -> Done {
    let name = &inputs[chunk.input];
    let mut produced = Produced {
        out: Vec::with_capacity(chunk.data.len()),
        ..Produced::default()
    };
    let mut last = 0;
    for line in &chunk.lines {
        let bytes = &chunk.data[line.start..line.end];
        mapper.line(name, line.line_no, &line.next, bytes, &mut produced);
        last = line.line_no;
    }
    Done {
        seq: chunk.seq,
        produced,
        caught_up: chunk.caught_up,
        at: (chunk.input, last),
        failed: None,
    }
}

/// Writes chunks as their turn comes; a chunk written gives its credit back.
fn write_in_order(
    done: &Receiver<Done>,
    credits: &SyncSender<()>,
    inputs: &[String],
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
            let _ = credits.try_send(());
        }
    }
    Ok(())
}
