//! A CSV import API as a client uses it (the catalog's and the products' share one
//! pipeline, and so one set of helpers): upload, read, wait for the end, list, and follow
//! the progress subscription.

use crate::{Auth, Session, TestServer, eventually, nodes, ws};
use serde_json::{Value, json};
use std::time::Duration;

/// How long an import may take to finish.
pub const WAIT: Duration = Duration::from_secs(60);

/// Every field of an import object.
pub const FIELDS: &str = "id fileName byteSize status totalRows processedRows created updated
    unchanged failed errors(first: 1000) { row column message } failure createdAt finishedAt";

/// Every field of a progress report (the import it is about by its ID).
pub const PROGRESS_FIELDS: &str =
    "import { id } status totalRows processedRows created updated unchanged failed";

/// One import API: its mutation, query and subscription fields.
pub struct Imports {
    /// The mutation taking `input: { file: Upload! }` (`importCatalog`); its payload
    /// holds the import under `one`'s name.
    pub upload: &'static str,
    /// The query of one import by `id` (`catalogImport`).
    pub one: &'static str,
    /// The connection of the caller's imports (`catalogImports`).
    pub list: &'static str,
    /// The progress subscription by `importId` (`catalogImportProgress`).
    pub progress: &'static str,
}

pub const CATALOG: Imports = Imports {
    upload: "importCatalog",
    one: "catalogImport",
    list: "catalogImports",
    progress: "catalogImportProgress",
};

pub const PRODUCTS: Imports = Imports {
    upload: "importProducts",
    one: "productImport",
    list: "productImports",
    progress: "productImportProgress",
};

impl Imports {
    /// The upload mutation, selecting every field of the import.
    pub fn upload_query(&self) -> String {
        format!(
            "mutation($file: Upload!) {{ {}(input: {{ file: $file }}) {{ {} {{ {FIELDS} }} }} }}",
            self.upload, self.one
        )
    }

    /// The import in an upload mutation's `data` (null when refused).
    pub fn uploaded<'a>(&self, data: &'a Value) -> &'a Value {
        &data[self.upload][self.one]
    }

    /// The progress subscription of `$id`, selecting every field.
    pub fn progress_query(&self) -> String {
        format!(
            "subscription($id: ID!) {{ {}(importId: $id) {{ {PROGRESS_FIELDS} }} }}",
            self.progress
        )
    }

    /// Uploads `bytes` as `file_name`; asserts the mutation succeeded and returns the
    /// import.
    pub async fn start(
        &self,
        s: &TestServer,
        who: &Session,
        file_name: &str,
        bytes: &[u8],
    ) -> Value {
        let (status, body) = s
            .upload(&who.auth(), &self.upload_query(), file_name, bytes)
            .await;
        assert!(
            status == 200 && body.get("errors").is_none(),
            "{}({file_name}) failed: {status} {body}",
            self.upload
        );
        let imp = self.uploaded(&body["data"]).clone();
        assert!(imp["id"].is_string(), "{body}");
        imp
    }

    /// Uploads `bytes` as `auth`; asserts the upload was refused (no import returned) and
    /// returns (HTTP status, body).
    pub async fn refused(&self, s: &TestServer, auth: &Auth, bytes: &[u8]) -> (u16, Value) {
        let (status, body) = s
            .upload(auth, &self.upload_query(), "file.csv", bytes)
            .await;
        assert!(
            body["errors"][0].is_object(),
            "the upload was not refused: {status} {body}"
        );
        assert!(
            body["data"].is_null() || body["data"][self.upload].is_null(),
            "a refused upload returned an import: {body}"
        );
        (status, body)
    }

    /// The import `id` as `who` reads it (null when not theirs).
    pub async fn by_id(&self, s: &TestServer, who: &Session, id: &str) -> Value {
        let query = format!("query($id: ID!) {{ {}(id: $id) {{ {FIELDS} }} }}", self.one);
        s.ok(&who.auth(), &query, json!({ "id": id })).await[self.one].clone()
    }

    /// Waits until the import has finished (COMPLETED or FAILED) and returns it.
    pub async fn finished(&self, s: &TestServer, who: &Session, id: &str) -> Value {
        eventually(&format!("import {id} finished"), WAIT, || async {
            let imp = self.by_id(s, who, id).await;
            match imp["status"].as_str() {
                Some("COMPLETED" | "FAILED") => Ok(imp),
                _ => Err(imp),
            }
        })
        .await
    }

    /// Waits until the import has finished and asserts it COMPLETED with (created,
    /// updated, unchanged, failed) = `counts` and every row processed; returns it.
    pub async fn completed(
        &self,
        s: &TestServer,
        who: &Session,
        id: &str,
        counts: (i64, i64, i64, i64),
    ) -> Value {
        let imp = self.finished(s, who, id).await;
        assert_eq!(imp["status"], "COMPLETED", "{imp}");
        let got = (
            imp["created"].as_i64().unwrap(),
            imp["updated"].as_i64().unwrap(),
            imp["unchanged"].as_i64().unwrap(),
            imp["failed"].as_i64().unwrap(),
        );
        assert_eq!(
            got, counts,
            "(created, updated, unchanged, failed) of {imp}"
        );
        assert_eq!(imp["processedRows"], imp["totalRows"], "{imp}");
        assert!(imp["failure"].is_null(), "{imp}");
        assert!(imp["finishedAt"].is_string(), "{imp}");
        imp
    }

    /// The IDs of the caller's imports.
    pub async fn ids(&self, s: &TestServer, who: &Session) -> Vec<String> {
        let query = format!(
            "{{ {}(first: 100) {{ edges {{ node {{ id }} }} }} }}",
            self.list
        );
        nodes(&s.ok(&who.auth(), &query, json!({})).await[self.list])
            .iter()
            .map(|n| n["id"].as_str().expect("import id").to_owned())
            .collect()
    }

    /// Follows the import `id` over a new socket as `auth` for at most `wait`; returns
    /// the operation's messages (`next`, then `complete` or `error`).
    pub async fn follow(
        &self,
        s: &TestServer,
        auth: &Auth,
        id: &str,
        wait: Duration,
    ) -> Vec<Value> {
        let mut socket = ws::connect(s, ws::TRANSPORT_WS).await;
        ws::init(&mut socket, auth).await;
        let msgs = ws::collect_operation(
            &mut socket,
            "progress",
            &self.progress_query(),
            json!({ "id": id }),
            wait,
        )
        .await;
        socket.close(None).await.ok();
        msgs
    }

    /// Asserts that `who` follows the import `id` nowhere: the subscription is refused and
    /// no report reaches it.
    pub async fn assert_cannot_follow(&self, s: &TestServer, who: &Session, id: &str) {
        let msgs = self.follow(s, &who.auth(), id, ws::SHOULD_HAPPEN).await;
        assert!(
            msgs.iter()
                .all(|m| m["payload"]["data"][self.progress].is_null()),
            "another company followed the import: {msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m["type"] == "error" || m["payload"]["errors"].is_array()),
            "the subscription was neither refused nor answered: {msgs:?}"
        );
    }
}
