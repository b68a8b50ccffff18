//! A small SMTP server on loopback for the iMIP tests (RFC 5321, just enough: EHLO/HELO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT). It keeps every accepted message, and can be switched to
//! refuse recipients for now (451) or for good (550); a sink that is stopped is "down" and can
//! be started again on the same port.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 451 to every RCPT: a transient failure.
    Transient,
    /// 550 to every RCPT: a permanent failure.
    Permanent,
}

/// One message as the sink took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    mails: Vec<Received>,
}

pub struct SmtpSink {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// A running sink on a free loopback port.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State { mode: Mode::Accept, mails: Vec::new() }));
        let task = Some(tokio::spawn(serve(listener, state.clone())));
        SmtpSink { addr, state, task }
    }

    /// A sink that is down: its port was free a moment ago and nothing listens on it now.
    pub async fn down() -> SmtpSink {
        let mut sink = SmtpSink::start().await;
        sink.stop();
        sink
    }

    /// Stops listening and drops every open connection.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port, keeping what it received.
    pub async fn restart(&mut self) {
        self.stop();
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.task = Some(tokio::spawn(serve(listener, self.state.clone())));
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn mails(&self) -> Vec<Received> {
        self.state.lock().unwrap().mails.clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    // Dropped with this task (on stop), which aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(session(stream, state.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) {
    // Replies go out at once (no Nagle delay waiting for the client's ACK).
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let _ = write.write_all(b"220 sink ESMTP ready\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = text.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let mode = state.lock().unwrap().mode;
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 ok\r\n"
            }
            "MAIL" => {
                from = address(&text);
                b"250 ok\r\n"
            }
            "RCPT" => match mode {
                Mode::Accept => {
                    to.push(address(&text));
                    b"250 ok\r\n"
                }
                Mode::Transient => b"451 4.3.0 try again later\r\n",
                Mode::Permanent => b"550 5.1.1 no such user here\r\n",
            },
            "DATA" if to.is_empty() => b"554 no valid recipients\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if read.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // RFC 5321 §4.5.2: a leading dot was doubled by the client.
                    let body = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
                    data.extend_from_slice(body);
                }
                let mail = Received { from: std::mem::take(&mut from), to: std::mem::take(&mut to), data };
                state.lock().unwrap().mails.push(mail);
                b"250 2.0.0 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 5.5.2 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The address inside `<…>` of a MAIL or RCPT command.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..].find('>').map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}
