//! The assistant on one machine: the tool functions called in-process (the
//! same handlers the Lambda tool functions run), the chat model the
//! configuration names, and the ticker that fires due reminders through
//! `reminder-fire` by the stack's clock.

use async_trait::async_trait;
use jarvis_core::ports::{ChatModel, PortResult};
use jarvis_core::tools::{self, ToolCall, ToolRefusal, ToolReply, ToolRunner};
use jarvis_local::chat::OfflineModel;
use jarvis_local::stack::LocalStack;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// The tool functions' handlers, called directly.
pub struct LocalTools {
    pub tasks: tool_tasks::Deps,
    pub reminders: tool_reminders::Deps,
    pub email: tool_email::Deps,
}

impl LocalTools {
    pub fn new(stack: &LocalStack) -> Self {
        Self {
            tasks: tool_tasks::Deps::local(stack),
            reminders: tool_reminders::Deps::local(stack),
            email: tool_email::Deps::local(stack),
        }
    }
}

#[async_trait]
impl ToolRunner for LocalTools {
    async fn call(&self, call: &ToolCall) -> PortResult<ToolReply> {
        match tools::owner(&call.name) {
            Some("tool-tasks") => tool_tasks::call(&self.tasks, call.clone()).await,
            Some("tool-reminders") => tool_reminders::call(&self.reminders, call.clone()).await,
            Some("tool-email") => tool_email::call(&self.email, call.clone()).await,
            _ => Ok(Err(ToolRefusal::new(format!(
                "there is no tool {}",
                call.name
            )))),
        }
    }
}

/// The chat model `JARVIS_CHAT_MODEL` names.
pub fn chat_model(stack: &LocalStack) -> anyhow::Result<Arc<dyn ChatModel>> {
    let chat = &stack.config.chat;
    Ok(match chat.model.as_str() {
        "offline" => Arc::new(OfflineModel {
            pace: std::time::Duration::from_millis(stack.config.chat.pace_ms),
        }),
        "openai" => Arc::new(
            jarvis_local::openai::OpenAiChat::new(
                chat.openai_url.as_deref().unwrap_or_default(),
                chat.openai_model.as_deref().unwrap_or_default(),
                chat.openai_api_key.clone(),
            )
            .map_err(|e| anyhow::anyhow!("the OpenAI-compatible chat model: {e}"))?,
        ),
        other => {
            anyhow::bail!("the chat model {other} is not available locally (offline or openai)")
        }
    })
}

/// memory-reflector on the local stack: the configured model writes memories,
/// or (offline) they are distilled.
pub fn reflector(stack: &LocalStack) -> anyhow::Result<memory_reflector::Deps> {
    let model = match stack.config.chat.model.as_str() {
        "offline" => None,
        _ => Some(chat_model(stack)?),
    };
    Ok(memory_reflector::Deps::local(stack, model))
}

/// When the nightly reflection runs, in the users' zone.
pub const NIGHTLY: &str = "30 3 * * ? *";

/// How often the ticker looks for due reminders.
pub const TICK: Duration = Duration::from_millis(250);

/// Fires what is due by the stack's clock, once per occurrence. Reminders due
/// while the runtime was down are due at the first tick, and fire marked late.
pub async fn fire_due(fire: &reminder_fire::Deps, stack: &LocalStack) -> usize {
    let now = stack.clock.now();
    let due = match stack.scheduler.due_reminders(now) {
        Ok(due) => due,
        Err(e) => {
            error!(error = %e, "reading due reminders");
            return 0;
        }
    };
    let mut fired = 0;
    for reminder in due {
        match reminder_fire::handle(fire, &reminder).await {
            Ok(outcome) => {
                info!(reminder = %reminder.id, ?outcome, "reminder delivered");
                if let Err(e) = stack.scheduler.fired(&reminder, now) {
                    error!(error = %e, "moving a reminder on");
                }
                fired += 1;
            }
            // Left due: the next tick tries again. A claim still within its
            // lease (a delivery that died mid-way, before a restart) is not news.
            Err(e) if e.error_name() == "Jarvis.Pending" => {
                tracing::debug!(reminder = %reminder.id, error = %e, "reminder claimed elsewhere")
            }
            Err(e) => warn!(reminder = %reminder.id, error = %e, "reminder not delivered yet"),
        }
    }
    fired
}

/// Fires due reminders, and runs memory-reflector nightly (03:30 in the users' zone).
pub async fn tick(
    fire: reminder_fire::Deps,
    reflect: memory_reflector::Deps,
    stack: LocalStack,
    mut stopped: watch::Receiver<bool>,
) {
    let zone = stack.zone();
    let mut nightly = jarvis_core::when::next_cron(NIGHTLY, zone, stack.clock.now()).ok();
    loop {
        fire_due(&fire, &stack).await;
        if let Some(at) = nightly.filter(|at| stack.clock.now() >= *at) {
            match memory_reflector::handle(&reflect, memory_reflector::Reflect::default()).await {
                Ok(out) => info!(?out, "nightly memory reflection"),
                Err(e) => error!(error = %e, "nightly memory reflection"),
            }
            nightly = jarvis_core::when::next_cron(NIGHTLY, zone, at.max(stack.clock.now())).ok();
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.wait_for(|v| *v) => break,
        }
    }
}
