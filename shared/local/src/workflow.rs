//! The local stand-in for Step Functions' `StartExecution`: execution names are
//! unique (a repeated name starts nothing, like `ExecutionAlreadyExists`), runs
//! are recorded so unfinished ones resume after a restart, and started runs are
//! handed to the local state machine through a channel.

use crate::{sqlite_err, Db};
use async_trait::async_trait;
use chrono::Utc;
use jarvis_core::pipeline::PipelineState;
use jarvis_core::ports::{PortResult, StartOutcome, WorkflowStarter};
use jarvis_core::PortError;
use rusqlite::params;
use tokio::sync::mpsc;

/// Starts a run may have before it is given up (the first, then two resumes).
pub const MAX_STARTS: u32 = 3;

/// What [`LocalWorkflows::resume_unfinished`] did.
#[derive(Debug, Default)]
pub struct Resumed {
    /// Runs started again.
    pub dispatched: usize,
    /// Runs under way at [`MAX_STARTS`] stops: not started again.
    pub given_up: Vec<Run>,
}

/// A run for the state machine to execute.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub input: PipelineState,
}

#[derive(Clone)]
pub struct LocalWorkflows {
    db: Db,
    runs: mpsc::UnboundedSender<Run>,
}

impl LocalWorkflows {
    /// The starter and the receiving end the state machine reads runs from.
    pub fn new(db: Db) -> (Self, mpsc::UnboundedReceiver<Run>) {
        let (runs, rx) = mpsc::unbounded_channel();
        (Self { db, runs }, rx)
    }

    /// Records a run's end ("succeeded" or "failed").
    pub fn finish(&self, name: &str, status: &str) -> PortResult<()> {
        self.db
            .lock()
            .execute(
                "UPDATE executions SET status = ?1, finished_at = ?2 WHERE name = ?3",
                params![status, Utc::now().to_rfc3339(), name],
            )
            .map_err(sqlite_err)?;
        Ok(())
    }

    /// Re-queues runs that were under way when the process stopped. A run that
    /// was under way at [`MAX_STARTS`] stops in a row (a file that exhausts
    /// memory in a parser kills the process, and would at every start) is not
    /// started again: it is answered in `given_up`, for the runtime to fail.
    pub fn resume_unfinished(&self) -> PortResult<Resumed> {
        let runs: Vec<(String, String, i64)> = {
            let conn = self.db.lock();
            let mut stmt = conn.prepare("SELECT name, input, starts FROM executions WHERE status = 'running' ORDER BY started_at").map_err(sqlite_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sqlite_err)?;
            rows.collect::<Result<_, _>>().map_err(sqlite_err)?
        };
        let mut resumed = Resumed::default();
        for (name, input, starts) in runs {
            let input: PipelineState =
                serde_json::from_str(&input).map_err(|e| PortError::backend("sqlite", e))?;
            let run = Run { name, input };
            if starts >= i64::from(MAX_STARTS) {
                resumed.given_up.push(run);
                continue;
            }
            self.db
                .lock()
                .execute(
                    "UPDATE executions SET starts = starts + 1 WHERE name = ?1",
                    params![run.name],
                )
                .map_err(sqlite_err)?;
            self.dispatch(run)?;
            resumed.dispatched += 1;
        }
        Ok(resumed)
    }

    /// How many runs have not finished.
    pub fn running(&self) -> PortResult<u64> {
        self.db
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM executions WHERE status = 'running'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sqlite_err)
    }

    fn dispatch(&self, run: Run) -> PortResult<()> {
        self.runs.send(run).map_err(|_| PortError::Unavailable {
            what: "the local state machine".into(),
            hint: "the runtime is shutting down".into(),
        })
    }
}

#[async_trait]
impl WorkflowStarter for LocalWorkflows {
    /// Names follow Step Functions' rule (≤ 80 of `[0-9A-Za-z_-]`), so a name
    /// AWS would refuse fails here too.
    async fn start(&self, name: &str, input: &PipelineState) -> PortResult<StartOutcome> {
        jarvis_core::pipeline::check_execution_name(name).map_err(PortError::Invalid)?;
        let body = serde_json::to_string(input).map_err(|e| PortError::backend("sqlite", e))?;
        let inserted = self
            .db
            .lock()
            .execute(
                "INSERT OR IGNORE INTO executions (name, input, status, started_at) VALUES (?1, ?2, 'running', ?3)",
                params![name, body, Utc::now().to_rfc3339()],
            )
            .map_err(sqlite_err)?;
        if inserted == 0 {
            return Ok(StartOutcome::AlreadyExists);
        }
        self.dispatch(Run {
            name: name.to_owned(),
            input: input.clone(),
        })?;
        Ok(StartOutcome::Started)
    }
}
