//! Reading the mail the server writes: with no SMTP server configured, each message is an
//! .eml file in `<data_dir>/mail`.

use crate::TestServer;
use base64::Engine;
use std::path::{Path, PathBuf};

impl TestServer {
    /// The folder the server writes its mail into (no SMTP server is configured).
    pub fn mail_dir(&self) -> PathBuf {
        self.server.state.config.data_dir.join("mail")
    }
}

/// The readable text of a message: headers as they are, the body with quoted-printable
/// soft breaks and `=3D` undone, and base64 parts decoded.
pub fn readable(raw: &str) -> String {
    let mut out = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    if raw
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: base64")
    {
        // Decode every run of base64 lines after a blank line.
        for part in raw.split("\r\n\r\n").chain(raw.split("\n\n")).skip(1) {
            let b64: String = part
                .lines()
                .take_while(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("");
            let b64: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

/// The .eml files in `dir` (none when it does not exist).
pub fn messages(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p, text))
        })
        .collect()
}

/// One message as the recipient reads it.
#[derive(Clone, Debug)]
pub struct Mail {
    pub path: PathBuf,
    pub to: String,
    pub subject: String,
    /// The whole message made readable (headers and decoded body).
    pub text: String,
    /// The body alone, decoded, with `\n` line ends.
    pub body: String,
}

/// Undoes RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?utf-8?Q?...?=`) in a header value.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let after = &rest[start + 2..];
        let parts: Vec<&str> = after.splitn(3, '?').collect();
        let decoded = if parts.len() == 3 {
            let (enc, tail) = (parts[1], parts[2]);
            tail.find("?=").and_then(|end| {
                let data = &tail[..end];
                let bytes = match enc.to_ascii_uppercase().as_str() {
                    "B" => base64::engine::general_purpose::STANDARD
                        .decode(data.as_bytes())
                        .ok()?,
                    "Q" => qp_bytes(&data.replace('_', " ")),
                    _ => return None,
                };
                let consumed = start + 2 + parts[0].len() + 1 + enc.len() + 1 + end + 2;
                Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
            })
        } else {
            None
        };
        match decoded {
            Some((word, consumed)) => {
                // Whitespace between two encoded words is not part of the text.
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&word);
                rest = &rest[consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quoted-printable to bytes (soft line breaks removed, `=XX` decoded).
pub fn qp_bytes(s: &str) -> Vec<u8> {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(hex) = std::str::from_utf8(&b[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Parses an .eml file: unfolded headers, decoded subject, and the readable text (the
/// body decoded by its transfer encoding, appended to `readable`).
pub fn parse_mail(path: &Path, raw: &str) -> Mail {
    let normalised = raw.replace("\r\n", "\n");
    let (head, body) = normalised
        .split_once("\n\n")
        .unwrap_or((normalised.as_str(), ""));
    let mut headers: Vec<(String, String)> = vec![];
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let encoding = get("content-transfer-encoding").to_ascii_lowercase();
    let decoded_body = if encoding == "base64" {
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else if encoding == "quoted-printable" {
        String::from_utf8_lossy(&qp_bytes(body)).into_owned()
    } else {
        body.to_owned()
    };
    Mail {
        path: path.to_owned(),
        to: decode_words(&get("to")),
        subject: decode_words(&get("subject")),
        text: format!("{}\n{}", readable(raw), decoded_body),
        body: decoded_body.replace("\r\n", "\n").trim_end().to_owned(),
    }
}

pub fn all_mail(dir: &Path) -> Vec<Mail> {
    messages(dir)
        .iter()
        .map(|(p, raw)| parse_mail(p, raw))
        .collect()
}

/// Every message to `to` from the servers of database `database_url` (mail folders
/// `mail_dirs`), whether sent or not: the .eml files written to the folder, and the
/// messages still waiting in the job queue (read as the database's owner), so a message
/// is there the moment the request that sent it has answered, whether or not any worker
/// runs. A sent message's job no longer holds its text (the queue forgets tokens once
/// they are mailed), and a message caught in both places is listed once.
pub async fn mailbox(database_url: &str, mail_dirs: &[PathBuf], to: &str) -> Vec<Mail> {
    use ils_entity::job;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    // The queue first: a message sent after this read is in the folder by the next one.
    let conn = sea_orm::Database::connect(database_url)
        .await
        .expect("database reachable");
    #[allow(clippy::disallowed_methods)] // the test reads the queue below the guard
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq(ils_kernel::mail::SEND_MAIL))
        .order_by_asc(job::Column::CreatedAt)
        .all(&conn)
        .await
        .expect("jobs readable");
    let _ = conn.close().await;
    let mut found: Vec<Mail> = mail_dirs
        .iter()
        .flat_map(|d| all_mail(d))
        .filter(|m| m.to == to)
        .collect();
    for queued in jobs
        .iter()
        .filter_map(|j| serde_json::from_str::<ils_kernel::mail::Mail>(&j.payload).ok())
        .filter(|m| m.to == to)
    {
        let body = queued.text.replace("\r\n", "\n").trim_end().to_owned();
        if !found
            .iter()
            // The sent copy may end with the message's link, which the queued one has not.
            .any(|m| m.subject == queued.subject && m.body.starts_with(&body))
        {
            found.push(Mail {
                path: PathBuf::new(),
                to: queued.to,
                subject: queued.subject,
                text: queued.text,
                body,
            });
        }
    }
    found
}

/// The mail folders of every server a test started on each database: a job queued through
/// one server may be sent by another.
static FOLDERS: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());

/// Notes that a server of `database_url` writes its mail into `dir`.
pub fn add_folder(database_url: &str, dir: PathBuf) {
    FOLDERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((database_url.to_owned(), dir));
}

/// The mail folders of the servers of `database_url`.
pub fn folders_of(database_url: &str) -> Vec<PathBuf> {
    FOLDERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(url, _)| url == database_url)
        .map(|(_, dir)| dir.clone())
        .collect()
}
