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

/// Sends mail; one per server, shared by the mail jobs.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// SMTP when `smtp_url` is given (`smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`), otherwise the folder.
    pub fn new(smtp_url: Option<&str>, from: &str, folder: PathBuf) -> Result<Mailer, String> {
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
        Ok(Mailer { transport, from })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), JobError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| JobError::permanent(format!("bad recipient {}: {e}", mail.to)))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .body(mail.text.clone())
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
                tracing::info!(to = %mail.to, subject = %mail.subject, file = %folder.join(format!("{id}.eml")).display(), "mail written to the mail folder");
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
