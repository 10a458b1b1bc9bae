//! Open WebSockets per company in this process, for the per-company cap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Open sockets per company in this process.
#[derive(Default)]
pub struct SocketCounts(Mutex<HashMap<Uuid, usize>>);

/// One counted socket; dropping it frees the place.
pub struct SocketSlot {
    counts: Arc<SocketCounts>,
    company: Uuid,
}

impl SocketCounts {
    pub fn try_open(self: &Arc<Self>, company: Uuid, max: usize) -> Option<SocketSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(company).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            counts: self.clone(),
            company,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.company) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.company);
            }
        }
    }
}
