//! `tool-tasks`: the user's to-do list, as assistant tools (`create_task`,
//! `list_tasks`, `complete_task`, `delete_task`) and over REST:
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `POST /tasks` | `{"title", "due"?}` (due as typed: "friday 5pm") | 201, the task |
//! | `GET /tasks` | `?status=open\|done\|all` | `{"tasks": [...]}` |
//! | `POST /tasks/{id}/complete` | — | the task |
//! | `DELETE /tasks/{id}` | — | `{"deleted": id}` |
//! | `PATCH /tasks/{id}` | `{"title"?, "due"?}` (`"due": ""` clears it) | the task |
//!
//! Every read and write is scoped to the caller's tenant.

use jarvis_core::clock::Clock;
use jarvis_core::domain::Task;
use jarvis_core::idempotency::ItemId;
use jarvis_core::ports::{PortResult, RecordStore};
use jarvis_core::tools::{self, ToolCall, ToolOutcome, ToolRefusal, ToolReply};
use jarvis_core::when::Zone as Tz;
use jarvis_core::{records, when, ApiError, TenantId};
use jarvis_lambda::http::{self, Request, Response};
use jarvis_lambda::routes::Op;
use serde_json::{json, Value};
use std::sync::Arc;

/// Longest task title.
pub const MAX_TITLE: usize = 500;

pub struct Deps {
    pub records: Arc<dyn RecordStore>,
    pub clock: Arc<dyn Clock>,
    /// Where "friday 5pm" is read.
    pub zone: Tz,
}

impl Deps {
    #[cfg(feature = "aws")]
    pub fn aws(stack: &jarvis_aws::AwsStack) -> Result<Self, jarvis_core::config::ConfigError> {
        use jarvis_aws::Rows;
        Ok(Deps {
            records: stack.records(Rows::All)?,
            clock: Arc::new(jarvis_core::clock::SystemClock),
            zone: stack.zone(),
        })
    }

    #[cfg(feature = "local")]
    pub fn local(stack: &jarvis_local::stack::LocalStack) -> Self {
        Deps {
            records: stack.records.clone(),
            clock: stack.clock.clone(),
            zone: stack.zone(),
        }
    }
}

fn describe(task: &Task, zone: Tz) -> String {
    match task.due {
        Some(due) => format!("{} (due {})", task.title, when::describe(due, zone)),
        None => task.title.clone(),
    }
}

fn view(task: &Task, zone: Tz) -> Value {
    serde_json::to_value(rest::TaskView {
        id: task.id.clone(),
        title: task.title.clone(),
        due: task.due,
        due_local: task.due.map(|d| when::describe(d, zone)),
        done: task.done,
        created_at: task.created_at,
        completed_at: task.completed_at,
    })
    .unwrap_or_default()
}

/// The tenant's task named by `id`, or the one open task whose title has the `query` words.
async fn find(
    deps: &Deps,
    tenant: &TenantId,
    input: &Value,
) -> PortResult<Result<Task, ToolRefusal>> {
    if let Some(id) = tools::text(input, "id") {
        return Ok(records::get::<Task>(deps.records.as_ref(), tenant, id)
            .await?
            .ok_or_else(|| ToolRefusal::not_found(format!("there is no task {id}"))));
    }
    let Some(query) = tools::text(input, "query").or_else(|| tools::text(input, "title")) else {
        return Ok(Err(ToolRefusal::new(
            "say which task (its id or words of its title)",
        )));
    };
    let all = records::list::<Task>(deps.records.as_ref(), tenant).await?;
    let hits: Vec<Task> = all
        .into_iter()
        .filter(|t| tools::matches(&t.title, query))
        .collect();
    let open: Vec<&Task> = hits.iter().filter(|t| !t.done).collect();
    Ok(match (open.as_slice(), hits.as_slice()) {
        ([one], _) => Ok((*one).clone()),
        ([], [one]) => Ok(one.clone()),
        ([], []) => Err(ToolRefusal::new(format!("no task matches {query:?}"))),
        _ => Err(ToolRefusal::new(format!(
            "{} tasks match {query:?}: {}; say which",
            hits.len(),
            hits.iter()
                .map(|t| t.title.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    })
}

/// Adds a task; `id` is the id it takes (derived from an idempotency key: a
/// task that has it already is answered, not made again).
pub async fn create(
    deps: &Deps,
    tenant: &TenantId,
    input: &Value,
    id: &ItemId,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let Some(title) = tools::text(input, "title") else {
        return Ok(Err(ToolRefusal::new("a task needs a title")));
    };
    if title.chars().count() > MAX_TITLE {
        return Ok(Err(ToolRefusal::new(format!(
            "a task title has at most {MAX_TITLE} characters"
        ))));
    }
    let now = deps.clock.now();
    let due = match tools::text(input, "due") {
        None => None,
        Some(phrase) => match when::resolve(phrase, now, zone) {
            Ok(t) => Some(t),
            Err(e) => return Ok(Err(ToolRefusal::new(format!("due time: {e}")))),
        },
    };
    let task = Task {
        id: id.id("task", now),
        tenant_id: tenant.clone(),
        title: title.to_owned(),
        due,
        done: false,
        created_at: now,
        completed_at: None,
    };
    let Some((task, _)) =
        records::create_unless_erased(deps.records.as_ref(), task, since.unwrap_or(now)).await?
    else {
        return Ok(Err(ToolRefusal::conflict(records::ERASING)));
    };
    let summary = format!("Added the task: {}", describe(&task, zone));
    Ok(Ok(ToolOutcome::acted(
        "task_created",
        summary,
        json!({"task": view(&task, zone)}),
        task.id.clone(),
    )))
}

pub async fn list(deps: &Deps, tenant: &TenantId, input: &Value) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let status = tools::text(input, "status").unwrap_or("open");
    let keep = match status {
        "open" => |t: &Task| !t.done,
        "done" => |t: &Task| t.done,
        "all" => |_: &Task| true,
        other => {
            return Ok(Err(ToolRefusal::new(format!(
                "status is open, done or all, not {other:?}"
            ))))
        }
    };
    let mut tasks: Vec<Task> = records::list::<Task>(deps.records.as_ref(), tenant)
        .await?
        .into_iter()
        .filter(keep)
        .collect();
    // Due ones first, soonest first; then the rest in the order they were added.
    tasks.sort_by_key(|t| (t.due.is_none(), t.due, t.created_at));
    let summary = if tasks.is_empty() {
        format!("You have no {status} tasks.")
    } else {
        let lines: Vec<String> = tasks
            .iter()
            .map(|t| format!("- {}{}", describe(t, zone), if t.done { " ✓" } else { "" }))
            .collect();
        format!(
            "Your {status} tasks ({}):\n{}",
            tasks.len(),
            lines.join("\n")
        )
    };
    let views: Vec<Value> = tasks.iter().map(|t| view(t, zone)).collect();
    Ok(Ok(ToolOutcome {
        result: json!({"summary": summary, "tasks": views}),
        action: None,
    }))
}

pub async fn complete(deps: &Deps, tenant: &TenantId, input: &Value) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    let found = match find(deps, tenant, input).await? {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    let now = deps.clock.now();
    // On the stored task as it is now (compare-and-set): a concurrent edit is not undone.
    let task =
        records::update::<Task, Option<Task>>(deps.records.as_ref(), tenant, &found.id, |t| {
            Ok(match t {
                Some(mut t) if !t.done => {
                    t.done = true;
                    t.completed_at = Some(now);
                    records::Change::Write(t.clone(), Some(t))
                }
                other => records::Change::Keep(other),
            })
        })
        .await?;
    let Some(task) = task else {
        return Ok(Err(ToolRefusal::not_found(format!(
            "there is no task {}",
            found.id
        ))));
    };
    let summary = format!("Marked done: {}", task.title);
    Ok(Ok(ToolOutcome::acted(
        "task_completed",
        summary,
        json!({"task": view(&task, zone)}),
        task.id,
    )))
}

pub async fn delete(deps: &Deps, tenant: &TenantId, input: &Value) -> PortResult<ToolReply> {
    let task = match find(deps, tenant, input).await? {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    records::delete::<Task>(deps.records.as_ref(), tenant, &task.id).await?;
    let summary = format!("Deleted the task: {}", task.title);
    Ok(Ok(ToolOutcome::acted(
        "task_deleted",
        summary,
        json!({"deleted": task.id}),
        task.id,
    )))
}

/// Changes a task's title or due time (`""` clears it), on the stored task as
/// it is now (compare-and-set): a concurrent completion is kept.
pub async fn edit(
    deps: &Deps,
    tenant: &TenantId,
    id: &str,
    change: &rest::TaskChange,
) -> PortResult<ToolReply> {
    let zone = records::zone_of(deps.records.as_ref(), tenant, deps.zone).await?;
    if change.title.is_none() && change.due.is_none() {
        return Ok(Err(ToolRefusal::new("say what changes: title, due")));
    }
    let title = match change.title.as_deref().map(str::trim) {
        Some("") => return Ok(Err(ToolRefusal::new("a task needs a title"))),
        Some(t) if t.chars().count() > MAX_TITLE => {
            return Ok(Err(ToolRefusal::new(format!(
                "a task title has at most {MAX_TITLE} characters"
            ))))
        }
        other => other.map(str::to_owned),
    };
    let now = deps.clock.now();
    let due = match change.due.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(phrase) => match when::resolve(phrase, now, zone) {
            Ok(t) => Some(Some(t)),
            Err(e) => return Ok(Err(ToolRefusal::new(format!("due time: {e}")))),
        },
    };
    let task = records::update::<Task, Option<Task>>(deps.records.as_ref(), tenant, id, |t| {
        Ok(match t {
            Some(mut t) => {
                if let Some(title) = &title {
                    t.title.clone_from(title);
                }
                if let Some(due) = due {
                    t.due = due;
                }
                records::Change::Write(t.clone(), Some(t))
            }
            None => records::Change::Keep(None),
        })
    })
    .await?;
    let Some(task) = task else {
        return Ok(Err(ToolRefusal::not_found(format!(
            "there is no task {id}"
        ))));
    };
    Ok(Ok(ToolOutcome::acted(
        "task_edited",
        format!("Changed the task: {}", describe(&task, zone)),
        json!({"task": view(&task, zone)}),
        task.id,
    )))
}

/// Completing or deleting a task the model asked for: the task is found, and
/// unless the user confirmed, the user is only asked, with what would change
/// rendered here from the stored task.
async fn confirmed_change(deps: &Deps, call: &ToolCall) -> PortResult<ToolReply> {
    let tenant = &call.tenant_id;
    let task = match find(deps, tenant, &call.input).await? {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    let token = tools::confirm_token(&call.name, &[&task.id, &task.title]);
    if !call.confirmed {
        let what = if call.name == tools::DELETE_TASK {
            "Delete"
        } else {
            "Mark done"
        };
        let summary = format!("{what} the task \"{}\" ({}).", task.title, task.id);
        return Ok(Ok(tools::confirmation_required(
            &call.name,
            &task.id,
            summary,
            json!({"id": task.id}),
            token,
            None,
        )));
    }
    if let Err(refusal) = tools::check_token(call, &token) {
        return Ok(Err(refusal));
    }
    let by_id = json!({"id": task.id});
    if call.name == tools::DELETE_TASK {
        delete(deps, tenant, &by_id).await
    } else {
        complete(deps, tenant, &by_id).await
    }
}

/// A tool call from the agent.
pub async fn call(deps: &Deps, call: ToolCall) -> PortResult<ToolReply> {
    let (t, input) = (&call.tenant_id, &call.input);
    match call.name.as_str() {
        tools::CREATE_TASK => create(deps, t, input, &ItemId::Fresh, call.since).await,
        tools::LIST_TASKS => list(deps, t, input).await,
        tools::COMPLETE_TASK | tools::DELETE_TASK => confirmed_change(deps, &call).await,
        other => Ok(Err(ToolRefusal::new(format!(
            "tool-tasks has no tool {other}"
        )))),
    }
}

/// Largest REST body.
pub const MAX_BODY_BYTES: u64 = 16 * 1024;

/// A REST call through API Gateway.
pub async fn handle(deps: &Deps, req: Request) -> Response {
    http::reply(route(deps, &req).await)
}

async fn route(deps: &Deps, req: &Request) -> Result<(u16, Value), ApiError> {
    let tenant = http::tenant(req)?;
    let by_id = json!({ "id": http::path_param(req, "id").unwrap_or_default() });
    let route = http::route(req)?;
    Ok(match route.op {
        Op::CreateTask => {
            let who = &tenant;
            http::create_once::<Task, _, _>(
                deps.records.as_ref(),
                req,
                &tenant,
                deps.clock.now(),
                |id| async move {
                    let body = http::checked_object::<rest::NewTask>(req, MAX_BODY_BYTES)?;
                    let out = create(deps, who, &body, &id, None).await??;
                    Ok((201, out.result["task"].clone()))
                },
            )
            .await?
        }
        Op::ListTasks => {
            let input = json!({"status": http::query(req, "status").unwrap_or("open")});
            let out = list(deps, &tenant, &input).await??;
            (200, json!({"tasks": out.result["tasks"]}))
        }
        Op::CompleteTask => {
            let out = complete(deps, &tenant, &by_id).await??;
            (200, out.result["task"].clone())
        }
        Op::DeleteTask => {
            let out = delete(deps, &tenant, &by_id).await??;
            (200, json!({"deleted": out.result["deleted"]}))
        }
        Op::EditTask => {
            let change: rest::TaskChange = http::json_body(req, MAX_BODY_BYTES)?;
            let id = http::path_param(req, "id").unwrap_or_default();
            let out = edit(deps, &tenant, id, &change).await??;
            (200, out.result["task"].clone())
        }
        _ => return Err(http::not_here("tool-tasks", route)),
    })
}

/// The REST bodies and answers (the OpenAPI document's schemas; tests check
/// real answers against them).
pub mod rest {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};

    /// `POST /tasks`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct NewTask {
        /// 1 to 500 characters, not only spaces.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        pub title: String,
        /// As the user said it: "friday 5pm", "in 2 days", "2026-12-01 08:00".
        #[schema(max_length = 200, example = "friday 5pm")]
        pub due: Option<String>,
    }

    /// `PATCH /tasks/{id}`: what changes.
    #[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct TaskChange {
        /// 1 to 500 characters, not only spaces.
        #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
        pub title: Option<String>,
        /// A new due time as the user says it ("friday 5pm"); `""` clears it.
        #[schema(max_length = 200, example = "friday 5pm")]
        pub due: Option<String>,
    }

    impl jarvis_core::contract::Contract for NewTask {}

    impl jarvis_core::contract::Contract for TaskChange {
        /// Something changes: a title or a due time.
        fn refine(schema: &mut serde_json::Value) {
            schema["anyOf"] = jarvis_core::contract::one_of_given(&["title", "due"]);
            schema["x-message"] = "say what changes: title, due".into();
        }
    }

    /// A task as the API shows it.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct TaskView {
        pub id: String,
        pub title: String,
        pub due: Option<DateTime<Utc>>,
        /// `due` in the user's time zone, as a sentence.
        pub due_local: Option<String>,
        pub done: bool,
        pub created_at: DateTime<Utc>,
        pub completed_at: Option<DateTime<Utc>>,
    }

    /// `GET /tasks`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct TaskList {
        pub tasks: Vec<TaskView>,
    }

    /// `DELETE /tasks/{id}`.
    #[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
    pub struct TaskDeleted {
        /// The deleted task's id.
        pub deleted: String,
    }
}
