//! Files (uploads, DCS files, exports) through the `object_store` crate: a local folder by
//! default, memory for tests, and whatever `object_store::parse_url` understands for a URL.
//! Modules name files by key; where the bytes live is configuration. A file a caller was
//! allowed to see can be handed out as a signed, expiring download link (`/files/<key>`),
//! like an object store's presigned URL, so a browser can fetch it without credentials.

use crate::{AppError, AppResult};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
    /// Prefix inside the store (the path part of a URL).
    root: Path,
    /// The key download links are signed with (none: no links).
    link_key: Option<Arc<[u8]>>,
}

/// How long an export's download link works.
pub const EXPORT_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// An export kept in the file store, with its download link.
#[derive(Clone, Debug)]
pub struct Exported {
    pub file_name: String,
    /// Rows written, a header not counted.
    pub rows: i64,
    /// Where the file is kept in the store.
    pub stored_as: String,
    pub download_url: String,
}

/// The path download links start with.
pub const LINK_PREFIX: &str = "/files/";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

impl Files {
    /// A folder on this machine (created if missing).
    pub fn local(dir: &std::path::Path) -> AppResult<Files> {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::internal(format!("file folder {}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| AppError::internal(format!("file folder {}: {e}", dir.display())))?;
        Ok(Files {
            store: Arc::new(store),
            root: Path::default(),
            link_key: None,
        })
    }

    /// Kept in memory, lost on exit.
    pub fn memory() -> Files {
        Files {
            store: Arc::new(object_store::memory::InMemory::new()),
            root: Path::default(),
            link_key: None,
        }
    }

    /// A store named by URL: `file:///var/lib/ils/files`, `memory:///`, or another scheme
    /// `object_store` was built with.
    pub fn from_url(url: &str) -> AppResult<Files> {
        let parsed = url::Url::parse(url)
            .map_err(|e| AppError::internal(format!("file store URL {url}: {e}")))?;
        if parsed.scheme() == "file" {
            let dir = parsed
                .to_file_path()
                .map_err(|_| AppError::internal(format!("file store URL {url}: not a path")))?;
            return Files::local(&dir);
        }
        let (store, root) = object_store::parse_url(&parsed)
            .map_err(|e| AppError::internal(format!("file store URL {url}: {e}")))?;
        Ok(Files {
            store: Arc::from(store),
            root,
            link_key: None,
        })
    }

    /// Signs download links with a key derived from `secret` (never the secret itself, so
    /// a link's signature says nothing about the tokens signed with it).
    pub fn with_link_secret(mut self, secret: &[u8]) -> Files {
        use hmac::Mac;
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"ils file links v1");
        self.link_key = Some(Arc::from(mac.finalize().into_bytes().to_vec()));
        self
    }

    fn signature(&self, key: &str, expires: i64) -> AppResult<String> {
        use hmac::Mac;
        let link_key = self
            .link_key
            .as_ref()
            .ok_or_else(|| AppError::internal("this file store signs no links"))?;
        let mut mac = HmacSha256::new_from_slice(link_key).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Keeps an export (a CSV file, say) made for `owner` under `folder`, named
    /// `file_name`, and returns it with a download link good for `EXPORT_LINK_TTL`: how
    /// every export is handed out.
    pub async fn export(
        &self,
        folder: &str,
        owner: uuid::Uuid,
        file_name: String,
        text: String,
        rows: i64,
    ) -> AppResult<Exported> {
        let key = format!("{folder}/{owner}/{}/{file_name}", uuid::Uuid::now_v7());
        self.put(&key, Bytes::from(text)).await?;
        Ok(Exported {
            download_url: self.link(&key, EXPORT_LINK_TTL)?,
            file_name,
            rows,
            stored_as: key,
        })
    }

    /// A download link for `key` (a path from the server's root) that works until `ttl`
    /// has passed. Hand it out only to a caller that may read the file.
    pub fn link(&self, key: &str, ttl: std::time::Duration) -> AppResult<String> {
        let expires = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        let signature = self.signature(key, expires)?;
        Ok(format!(
            "{LINK_PREFIX}{key}?expires={expires}&signature={signature}"
        ))
    }

    /// The file a link names, if its signature is right and it has not expired
    /// (FORBIDDEN otherwise, NOT_FOUND when the file is gone).
    pub async fn open_link(&self, key: &str, expires: i64, signature: &str) -> AppResult<Bytes> {
        use hmac::Mac;
        let link_key = self
            .link_key
            .as_ref()
            .ok_or_else(|| AppError::forbidden("this file store signs no links"))?;
        let given = hex::decode(signature).map_err(|_| AppError::forbidden("bad link"))?;
        let mut mac = HmacSha256::new_from_slice(link_key).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| AppError::forbidden("bad link"))?;
        if expires < chrono::Utc::now().timestamp() {
            return Err(AppError::forbidden("the link has expired"));
        }
        let found = self.store.get(&self.path(key)).await;
        match found {
            Err(object_store::Error::NotFound { .. }) => Err(AppError::NotFound),
            Err(e) => Err(AppError::internal(format!("reading file {key}: {e}"))),
            Ok(found) => found
                .bytes()
                .await
                .map_err(|e| AppError::internal(format!("reading file {key}: {e}"))),
        }
    }

    /// An uploaded file (a GraphQL multipart request's `Upload`): its name (trimmed, at
    /// most 200 characters) and bytes, read off the async runtime. BAD_USER_INPUT on
    /// `field` when nothing was uploaded under that name.
    pub async fn read_upload(
        ctx: &async_graphql::Context<'_>,
        file: async_graphql::Upload,
        field: &str,
    ) -> AppResult<(String, Vec<u8>)> {
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::bad_input(field, "no file was uploaded under this name"))?;
        let name = upload.filename.trim().chars().take(200).collect::<String>();
        let bytes = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = Vec::new();
            upload.into_read().read_to_end(&mut buf).map(|_| buf)
        })
        .await
        .map_err(|e| AppError::internal(format!("reading the upload: {e}")))?
        .map_err(|e| AppError::internal(format!("reading the upload: {e}")))?;
        Ok((name, bytes))
    }

    fn path(&self, key: &str) -> Path {
        self.root.parts().chain(Path::from(key).parts()).collect()
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> AppResult<()> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| AppError::internal(format!("storing file {key}: {e}")))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> AppResult<Bytes> {
        let found = self
            .store
            .get(&self.path(key))
            .await
            .map_err(|e| AppError::internal(format!("reading file {key}: {e}")))?;
        found
            .bytes()
            .await
            .map_err(|e| AppError::internal(format!("reading file {key}: {e}")))
    }

    pub async fn delete(&self, key: &str) -> AppResult<()> {
        self.store
            .delete(&self.path(key))
            .await
            .map_err(|e| AppError::internal(format!("deleting file {key}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_round_trip_in_a_folder_and_in_memory() {
        let dir = std::env::temp_dir().join(format!("ils-files-{}", uuid::Uuid::now_v7()));
        for files in [Files::local(&dir).unwrap(), Files::memory()] {
            files
                .put("a/b/c.csv", Bytes::from_static(b"sku,name"))
                .await
                .unwrap();
            assert_eq!(files.get("a/b/c.csv").await.unwrap(), &b"sku,name"[..]);
            files.delete("a/b/c.csv").await.unwrap();
            assert!(files.get("a/b/c.csv").await.is_err());
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    fn query(link: &str) -> (String, i64, String) {
        let (path, query) = link.split_once('?').unwrap();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("signature", v) => signature = v.to_owned(),
                _ => panic!("unexpected {pair}"),
            }
        }
        (path[LINK_PREFIX.len()..].to_owned(), expires, signature)
    }

    #[tokio::test]
    async fn links_open_their_own_file_until_they_expire() {
        let files = Files::memory().with_link_secret(b"secret");
        files
            .put("a/1.oma", Bytes::from_static(b"JOB=1"))
            .await
            .unwrap();
        files
            .put("a/2.oma", Bytes::from_static(b"JOB=2"))
            .await
            .unwrap();
        let link = files
            .link("a/1.oma", std::time::Duration::from_secs(60))
            .unwrap();
        let (key, expires, sig) = query(&link);
        assert_eq!(key, "a/1.oma");
        assert_eq!(
            files.open_link(&key, expires, &sig).await.unwrap(),
            &b"JOB=1"[..]
        );
        // Another key, a later expiry, another secret: refused.
        for (k, e) in [("a/2.oma", expires), ("a/1.oma", expires + 3600)] {
            let err = files.open_link(k, e, &sig).await.unwrap_err();
            assert!(matches!(err, AppError::Forbidden(_)), "{err:?}");
        }
        let other = Files::memory().with_link_secret(b"other");
        assert!(other.open_link(&key, expires, &sig).await.is_err());
        // An expired link, correctly signed, is refused too.
        let old = files.signature("a/1.oma", 1).unwrap();
        assert!(files.open_link("a/1.oma", 1, &old).await.is_err());
        // A store without a link secret hands out no links.
        assert!(
            Files::memory()
                .link("a", std::time::Duration::from_secs(1))
                .is_err()
        );
    }
}
