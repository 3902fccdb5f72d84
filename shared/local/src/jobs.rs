//! `Jobs` on one machine: started jobs go onto a channel that the runtime's
//! job worker takes ([`LocalJobs::take_receiver`]). An erasure the runtime did
//! not finish before it stopped is started again at the next start (its
//! record says `running`).

use async_trait::async_trait;
use jarvis_core::ports::{Jobs, PortResult};
use jarvis_core::{PortError, TenantId};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// A job for the runtime's worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Erase(TenantId),
}

pub struct LocalJobs {
    tx: mpsc::UnboundedSender<Job>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
}

impl Default for LocalJobs {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl LocalJobs {
    /// The jobs, for the one worker that runs them; `None` once taken.
    pub fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Job>> {
        self.rx.lock().expect("jobs lock").take()
    }
}

#[async_trait]
impl Jobs for LocalJobs {
    async fn start_erasure(&self, tenant: &TenantId) -> PortResult<()> {
        self.tx
            .send(Job::Erase(tenant.clone()))
            .map_err(|_| PortError::Transient {
                backend: "jobs",
                message: "the runtime's job worker has stopped".into(),
                source: None,
            })
    }
}
