//! Files (uploads, DCS files, exports) through the `object_store` crate: a local folder by
//! default, memory for tests, and whatever `object_store::parse_url` understands for a URL.
//! Modules name files by key; where the bytes live is configuration.

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
}

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
        })
    }

    /// Kept in memory, lost on exit.
    pub fn memory() -> Files {
        Files {
            store: Arc::new(object_store::memory::InMemory::new()),
            root: Path::default(),
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
        })
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
}
