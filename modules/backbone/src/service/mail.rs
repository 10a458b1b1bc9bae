//! The mail job: sends a message by SMTP when `ILS_SMTP_URL` is set, otherwise writes it
//! as an `.eml` file into the mail folder and logs it (development and tests read it there).

use ils_kernel::jobs::{JobError, JobKind, JobRun, handler};
use ils_kernel::mail::{Mail, SEND_MAIL};
use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// How many messages written to the mail folder the mailer also keeps in memory, for the
/// development mailbox (`/dev/mail`).
pub const KEEP: usize = 100;

/// One message written to the mail folder, as the development mailbox shows it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kept {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub sent_at: chrono::DateTime<chrono::Utc>,
}

/// Sends mail; one per server, shared by the mail jobs.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Where people reach this server (`ILS_PUBLIC_URL`): a message's link is made on it;
    /// without it the link is the path alone.
    public_url: Option<String>,
    /// The last `KEEP` messages written to the folder, newest first (none with SMTP).
    kept: std::sync::Mutex<std::collections::VecDeque<Kept>>,
}

impl Mailer {
    /// SMTP when `smtp_url` is given (`smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`), otherwise the folder. A message's link is made on `public_url`.
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        folder: PathBuf,
        public_url: Option<&str>,
    ) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("the mail sender address is invalid: {e}"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("the SMTP URL is invalid: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&folder).map_err(|e| {
                    format!("cannot create the mail folder {}: {e}", folder.display())
                })?;
                Transport::Folder(AsyncFileTransport::new(&folder), folder)
            }
        };
        Ok(Mailer {
            transport,
            from,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            kept: Default::default(),
        })
    }

    /// The messages this process wrote to the mail folder for `to` (any case), newest
    /// first: what a developer's mailbox would hold. Empty when mail goes by SMTP.
    pub fn kept_for(&self, to: &str) -> Vec<Kept> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to.trim()))
            .cloned()
            .collect()
    }

    /// The text as sent: the message's own, then its link on the public address.
    pub fn text_of(&self, mail: &Mail) -> String {
        match (&mail.link, &self.public_url) {
            (Some(path), Some(at)) => format!("{}\n\n{at}{path}\n", mail.text.trim_end()),
            (Some(path), None) => {
                format!("{}\n\n{path} (on your ILS server)\n", mail.text.trim_end())
            }
            (None, _) => mail.text.clone(),
        }
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), JobError> {
        let text = self.text_of(mail);
        let to: Mailbox = mail
            .to
            .parse()
            // The address stays out of the error: job errors are logged and shown to admins.
            .map_err(|e| JobError::permanent(format!("bad recipient address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .body(text.clone())
            .map_err(|e| JobError::permanent(format!("cannot build the message: {e}")))?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message)
                    .await
                    .map_err(|e| JobError::retry(format!("SMTP: {e}")))?;
            }
            Transport::Folder(t, folder) => {
                let id = t
                    .send(message)
                    .await
                    .map_err(|e| JobError::retry(format!("mail folder: {e}")))?;
                // Named by its message id (the file's name), never by its recipient: log
                // lines travel to places mail addresses should not.
                tracing::info!(message_id = %id, file = %folder.join(format!("{id}.eml")).display(), "mail written to the mail folder");
                let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() == KEEP {
                    kept.pop_back();
                }
                kept.push_front(Kept {
                    message_id: id.to_string(),
                    to: mail.to.clone(),
                    subject: mail.subject.clone(),
                    text,
                    sent_at: chrono::Utc::now(),
                });
            }
        }
        Ok(())
    }
}

pub fn send_kind() -> JobKind {
    JobKind::new(
        SEND_MAIL,
        handler(|run: JobRun| async move {
            let mail: Mail = run.payload()?;
            run.resources.need::<Mailer>()?.send(&mail).await
        }),
    )
    .max_attempts(8)
    .backoff(Duration::from_secs(30), Duration::from_secs(3600))
    // Messages carry tokens (invitations): blanked once sent.
    .sensitive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A log sink the test can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_link_is_made_on_the_public_address_at_the_end_of_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(
            None,
            "ILS <no-reply@ils.example>",
            dir.path().into(),
            Some("https://ils.example.com/"),
        )
        .unwrap();
        let mut mail = Mail {
            to: "ann.lee@brightside.example".into(),
            subject: "PO-000001 is drafted for your approval".into(),
            text: "Approve it here:\n".into(),
            link: Some("/playground?tab=PendingApprovals".into()),
        };
        assert_eq!(
            mailer.text_of(&mail),
            "Approve it here:\n\nhttps://ils.example.com/playground?tab=PendingApprovals\n"
        );
        // Without a public address (production, unset), the path alone.
        let pathless =
            Mailer::new(None, "ILS <no-reply@ils.example>", dir.path().into(), None).unwrap();
        assert_eq!(
            pathless.text_of(&mail),
            "Approve it here:\n\n/playground?tab=PendingApprovals (on your ILS server)\n"
        );
        mail.link = None;
        assert_eq!(mailer.text_of(&mail), "Approve it here:\n");
    }

    #[tokio::test]
    async fn the_mail_folder_log_line_names_the_message_not_the_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(
            None,
            "ILS <no-reply@ils.example>",
            dir.path().into(),
            Some("https://ils.example.com/"),
        )
        .unwrap();
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        mailer
            .send(&Mail {
                to: "ann.lee@brightside.example".into(),
                subject: "You are invited to ILS".into(),
                text: "hello".into(),
                link: None,
            })
            .await
            .unwrap();
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
            .into_string()
            .unwrap();
        let id = file.trim_end_matches(".eml");
        assert!(log.contains(&format!("message_id={id}")), "{log}");
        assert!(!log.contains("ann.lee"), "the recipient is logged: {log}");
        assert!(
            !log.contains("brightside"),
            "the recipient is logged: {log}"
        );
    }
}
