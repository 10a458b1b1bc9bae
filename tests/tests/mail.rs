//! Outgoing mail goes through the job queue; with no SMTP server configured, each message
//! is written as an .eml file into `<data_dir>/mail`.

use ils_tests::mail::{messages, readable};
use ils_tests::{TestServer, email, eventually, nodes};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_is_mailed_through_the_job_queue() {
    let s = TestServer::start().await;
    assert!(s.server.state.config.smtp_url.is_none());
    // Registered directly, so the invitation is the only mail.
    let admin = s.register("Mail Optical", "ECP", &email("mailer")).await;
    let mail_dir = s.mail_dir();
    let invitee = email("invitee");

    let inv = s
        .ok(
            &admin.auth(),
            "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token invitation { id } } }",
            json!({ "e": invitee }),
        )
        .await;
    let token = inv["inviteUser"]["token"].as_str().unwrap().to_owned();

    let (path, raw) = eventually(
        &format!("a mail to {invitee} in {}", mail_dir.display()),
        Duration::from_secs(15),
        || {
            let all = messages(&mail_dir);
            let found = all
                .iter()
                .find(|(_, text)| readable(text).contains(&invitee))
                .cloned();
            let result = found.ok_or_else(|| all.into_iter().map(|(p, _)| p).collect::<Vec<_>>());
            async move { result }
        },
    )
    .await;
    let text = readable(&raw);
    let to = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("to:"))
        .unwrap_or_else(|| panic!("no To: header in {}:\n{raw}", path.display()));
    assert!(to.contains(&invitee), "addressed to {to}, not {invitee}");
    assert!(
        text.lines()
            .any(|l| l.to_ascii_lowercase().starts_with("subject:")),
        "no subject:\n{raw}"
    );
    assert!(
        text.contains(&token),
        "the invitation token is not in the mail:\n{raw}"
    );

    // The mail job succeeded, and once it has, exactly one message for this invitation
    // exists (a job that is done sends nothing more).
    eventually("the mail job SUCCEEDED", Duration::from_secs(15), || async {
        let jobs = s
            .ok(
                &admin.auth(),
                "{ jobs(filter: { statuses: [SUCCEEDED], kind: \"mail.send\" }, first: 10) { edges { node { id kind attempts } } } }",
                json!({}),
            )
            .await;
        if nodes(&jobs["jobs"]).is_empty() { Err(jobs) } else { Ok(()) }
    })
    .await;
    let to_invitee = messages(&mail_dir)
        .into_iter()
        .filter(|(_, t)| readable(t).contains(&token))
        .count();
    assert_eq!(
        to_invitee, 1,
        "the invitation was mailed {to_invitee} times"
    );
    // Once sent, the job no longer holds the message (and so the token).
    #[allow(clippy::disallowed_methods)] // reads the queue below the guard
    {
        use sea_orm::ConnectionTrait;
        let conn = s.owner_connection().await;
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT payload FROM jobs WHERE kind = 'mail.send'",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let payload: String = rows[0].try_get_by_index(0).unwrap();
        assert_eq!(payload, ils_kernel::jobs::REDACTED);
        assert!(!payload.contains(&token));
    }
    s.finish().await;
}

/// A minimal SMTP server for one test: it accepts every command and hands each message's
/// envelope recipients and DATA to the test.
async fn fake_smtp() -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<(Vec<String>, String)>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 fake ESMTP\r\n").await;
                let mut rcpt = vec![];
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-fake\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        let _ = write.write_all(b"354 go on\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        let _ = tx.send((std::mem::take(&mut rcpt), data));
                        b"250 queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_configured_an_invitation_goes_out_by_smtp() {
    let (port, mut received) = fake_smtp().await;
    let s = TestServer::start_with(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_from = "ILS Test <no-reply@ils.test>".into();
    })
    .await;
    // The sign-up itself goes out by SMTP: its token comes from the SMTP server.
    let owner = email("smtp");
    s.ok(
        &ils_tests::Auth::None,
        ils_tests::SIGN_UP,
        ils_tests::sign_up_input("Smtp Optical", "ECP", &owner),
    )
    .await;
    let (rcpt, data) = tokio::time::timeout(Duration::from_secs(15), received.recv())
        .await
        .expect("the sign-up mail reached the SMTP server within 15 s")
        .expect("the SMTP server is running");
    assert_eq!(rcpt, vec![owner.clone()]);
    let body = ils_tests::mail::parse_mail(std::path::Path::new("smtp"), &data).body;
    let token = ils_tests::token_in(&body).unwrap_or_else(|| panic!("no token in {data}"));
    let admin = s.confirm_sign_up(&token).await;
    let invitee = email("smtp-invitee");
    let inv = s
        .ok(
            &admin.auth(),
            "mutation($e: String!) { inviteUser(input: { email: $e, role: STAFF }) { token } }",
            json!({ "e": invitee }),
        )
        .await;
    let token = inv["inviteUser"]["token"].as_str().unwrap().to_owned();
    let (rcpt, data) = tokio::time::timeout(Duration::from_secs(15), received.recv())
        .await
        .expect("a message reached the SMTP server within 15 s")
        .expect("the SMTP server is running");
    assert_eq!(rcpt, vec![invitee.clone()]);
    let text = readable(&data);
    assert!(
        text.contains("From: \"ILS Test\" <no-reply@ils.test>")
            || text.contains("From: ILS Test <no-reply@ils.test>"),
        "{text}"
    );
    assert!(
        text.contains(&token),
        "the token is not in the message:\n{text}"
    );
    // Nothing was written to the folder instead.
    let folder = s.mail_dir();
    assert!(
        messages(&folder).is_empty(),
        "a file was written though SMTP is set"
    );
    s.finish().await;
}
