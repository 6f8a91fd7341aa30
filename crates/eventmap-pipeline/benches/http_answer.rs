//! Reading one HTTP/1.1 answer off a keep-alive connection, for the benches that post
//! to `serve` over raw sockets (serve.rs here, and eventmap-cli's serve_process.rs).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// Reads one answer (status line, headers, a `Content-Length` body); its status.
pub fn read(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("body");
    status
}
