//! Tests only: a small SMTP server on a loopback port that accepts every message and keeps it,
//! so tests can read what the portal sent. It speaks just enough of RFC 5321 (EHLO/HELO, MAIL,
//! RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and offers no STARTTLS.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One message as received.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// Headers and body as sent, CRLF line ends.
    pub data: String,
}

impl ReceivedMessage {
    /// The message with quoted-printable soft line breaks and `=3D` undone, enough to find a
    /// link in a plain-text body whichever transfer encoding the sender chose.
    #[must_use]
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<ReceivedMessage>>,
    arrived: Notify,
}

/// The server; it stops when dropped.
pub struct SmtpSink {
    port: u16,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Starts listening on `127.0.0.1` at a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inbox = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &inbox).await;
                });
            }
        });
        Self { port, inbox, task }
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.inbox.messages.lock().expect("inbox").clone()
    }

    /// Waits (up to ten seconds) until at least `count` messages have arrived; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let arrived = self.inbox.arrived.notified();
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "the SMTP sink received {} message(s), expected {count}",
                    messages.len()
                );
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn address(argument: &str) -> String {
    let argument = argument.trim();
    let inner = match (argument.find('<'), argument.find('>')) {
        (Some(start), Some(end)) if start < end => &argument[start + 1..end],
        _ => argument.split_whitespace().next().unwrap_or_default(),
    };
    inner.to_owned()
}

async fn serve(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test-smtp ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if let Some(rest) = upper.strip_prefix("MAIL FROM:") {
            from = address(&command[command.len() - rest.len()..]);
            to.clear();
            b"250 ok\r\n"
        } else if let Some(rest) = upper.strip_prefix("RCPT TO:") {
            to.push(address(&command[command.len() - rest.len()..]));
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with .\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            inbox.messages.lock().expect("inbox").push(ReceivedMessage {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            inbox.arrived.notify_waiters();
            b"250 queued\r\n"
        } else if upper == "RSET" {
            from.clear();
            to.clear();
            b"250 ok\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
