//! Outgoing mail goes through the job queue: a module enqueues a message in the
//! transaction of the write that calls for it, and the mail job (backbone module) sends it
//! by SMTP or writes it to the mail folder.

use crate::jobs::{JobPayload, NewJob};
use crate::{AppResult, Tx};
use serde::{Deserialize, Serialize};

/// The job kind that sends one message.
pub const SEND_MAIL: &str = "mail.send";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// A page of this server the message points to, as a path (`/playground?tab=…`): the
    /// mailer ends the text with it as a link on the server's public address
    /// (`ILS_PUBLIC_URL`), which modules do not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl JobPayload for Mail {
    const KIND: &'static str = SEND_MAIL;
}

/// Sends `mail` once the transaction commits.
pub async fn send_later(tx: &Tx, mail: &Mail) -> AppResult<()> {
    tx.enqueue(NewJob::of(mail)).await?;
    Ok(())
}

/// [`send_later`], at most once for `key`: a retried job that mails again cannot send
/// the same message twice.
pub async fn send_once(tx: &Tx, mail: &Mail, key: &str) -> AppResult<bool> {
    tx.enqueue(NewJob::of(mail).key(key)).await
}
