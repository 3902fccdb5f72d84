//! The HTTP API's routes, declared once: what each does ([`Op`]), the method,
//! the path (API Gateway's route-key form, `{id}` for a path parameter), the
//! function that answers it, and whether it needs a signed-in caller.
//! - Terraform's route map (`terraform/modules/functions/catalog.tf`) is checked
//!   against this table by tests/infra;
//! - the local runtime's router is built from it;
//! - the OpenAPI document (`GET /openapi.json`) lists its paths from it;
//! - a function learns which route it is answering from the request context's
//!   route key, looked up here ([`crate::http::route`]), and matches on the
//!   [`Op`] — never on route-key strings.

/// What a route does: the name a function matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Healthz,
    Search,
    UploadDocument,
    PresignUpload,
    ListDocuments,
    GetDocument,
    DocumentOriginal,
    DeleteDocument,
    Chat,
    ListConversations,
    GetConversation,
    DeleteConversation,
    CreateTask,
    ListTasks,
    CompleteTask,
    DeleteTask,
    EditTask,
    CreateReminder,
    ListReminders,
    CancelReminder,
    EditReminder,
    CreateDraft,
    ListDrafts,
    SendDraft,
    EditDraft,
    EraseData,
    ErasureStatus,
    Export,
    GetSettings,
    PutSettings,
    PutNotifications,
    DeleteNotifications,
}

/// A function that answers HTTP routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    ApiSearch,
    ApiDocuments,
    ApiChat,
    ToolTasks,
    ToolReminders,
    ToolEmail,
    ApiMe,
}

impl Function {
    /// The function crate's (and the deployed function's) name: `"api-search"`.
    pub const fn name(self) -> &'static str {
        match self {
            Function::ApiSearch => "api-search",
            Function::ApiDocuments => "api-documents",
            Function::ApiChat => "api-chat",
            Function::ToolTasks => "tool-tasks",
            Function::ToolReminders => "tool-reminders",
            Function::ToolEmail => "tool-email",
            Function::ApiMe => "api-me",
        }
    }
}

/// One route of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub op: Op,
    pub method: &'static str,
    pub path: &'static str,
    /// The function that answers it.
    pub function: Function,
    /// What it does, in a line (the OpenAPI summary).
    pub summary: &'static str,
    /// No token needed (API Gateway routes it without the JWT authorizer).
    pub public: bool,
}

impl Route {
    /// API Gateway's route key: `"POST /documents"`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The path's parameters, in order (`{id}` → `id`).
    pub fn params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    Header,
}

/// A path, query or header parameter: what the OpenAPI document prints and
/// what [`crate::http::route`] checks before a handler runs — one declaration.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub required: bool,
    pub description: &'static str,
    /// The JSON Schema of the value (as OpenAPI serializes it: `integer` and
    /// `boolean` parameters are their text).
    pub schema: serde_json::Value,
}

impl Param {
    /// The raw value (`None`: not sent) against this parameter; the error is
    /// the 400's message.
    pub fn check(&self, raw: Option<&str>) -> Result<(), String> {
        match raw {
            None if self.required => Err(match self.location {
                In::Query => format!("give {} as ?{}=…", self.name, self.name),
                _ => format!("{} is required", self.name),
            }),
            None => Ok(()),
            Some(raw) => jarvis_core::contract::check_parameter(&self.schema, self.name, raw),
        }
    }
}

/// Id patterns, as the stores make them (`doc_` + 24 hex digits from the
/// object; `conv_…`, `task_…`, `rem_…`, `draft_…` from `clock::new_id` or an
/// idempotency key). An id that fits may still name nothing (404).
pub const DOCUMENT_ID: &str = "^doc_[0-9a-fA-F]{24}$";
pub const CONVERSATION_ID: &str = jarvis_core::agent::CONVERSATION_ID_PATTERN;
pub const TASK_ID: &str = "^task_[0-9a-z]{1,60}$";
pub const REMINDER_ID: &str = "^rem_[0-9a-z]{1,60}$";
pub const DRAFT_ID: &str = "^draft_[0-9a-z]{1,60}$";
/// A file name `keys::sanitize_file_name` keeps.
pub const FILE_NAME: &str = jarvis_core::pipeline::keys::FILE_NAME_PATTERN;
/// An `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY: &str = "^[\\x21-\\x7e]{1,255}$";

/// The parameters of `route`: its path's ids, its query, its headers.
pub fn parameters(route: &Route) -> Vec<Param> {
    use serde_json::json;
    let id = |pattern: &str, what: &'static str| Param {
        name: "id",
        location: In::Path,
        required: true,
        description: what,
        schema: json!({"type": "string", "pattern": pattern,
            "x-message": format!("is not {}", what.to_lowercase().replacen("the ", "a ", 1))}),
    };
    let query = |name, description, schema| Param {
        name,
        location: In::Query,
        required: false,
        description,
        schema,
    };
    let mut params = Vec::new();
    if route.path.contains("{id}") {
        params.push(match route.path.split('/').nth(1) {
            Some("documents") => id(DOCUMENT_ID, "The document's id (doc_ + 24 hex digits)"),
            Some("conversations") => id(CONVERSATION_ID, "The conversation's id (conv_…)"),
            Some("tasks") => id(TASK_ID, "The task's id (task_…)"),
            Some("reminders") => id(REMINDER_ID, "The reminder's id (rem_…)"),
            _ if route.path.starts_with("/emails/drafts/") => {
                id(DRAFT_ID, "The draft's id (draft_…)")
            }
            _ => unreachable!("{} names an id of no known kind", route.path),
        });
    }
    match route.op {
        Op::UploadDocument => {
            params.push(Param {
                required: true,
                ..query(
                    "name",
                    "The file's name (its extension says its type); a taken name becomes `name (2).ext`",
                    json!({"type": "string", "minLength": 1, "pattern": FILE_NAME,
                        "x-message": "is not a usable file name"}),
                )
            });
            params.push(query(
                "replace",
                "`true` replaces the file of that name instead",
                json!({"type": "boolean"}),
            ));
        }
        Op::ListDocuments => {
            params.push(query(
                "status",
                "Only documents in this state",
                json!({"type": "string", "enum": ["queued", "processing", "indexed", "failed", "skipped"]}),
            ));
            params.push(query(
                "limit",
                "Documents on a page (default 50)",
                json!({"type": "integer", "minimum": 1, "maximum": 200}),
            ));
            params.push(query(
                "after",
                "The `next` of the previous page",
                json!({"type": "string", "pattern": DOCUMENT_ID,
                    "x-message": "is not a document id (doc_ + 24 hex digits)"}),
            ));
        }
        Op::ListTasks => params.push(query(
            "status",
            "open (default), done or all",
            json!({"type": "string", "enum": ["open", "done", "all"]}),
        )),
        Op::Export => params.push(query(
            "link",
            "true: when the archive is a pre-signed link, answer it as JSON instead of a 303",
            json!({"type": "boolean"}),
        )),
        Op::CreateTask | Op::CreateReminder | Op::CreateDraft => params.push(Param {
            name: "Idempotency-Key",
            location: In::Header,
            required: false,
            description: "1 to 255 visible ASCII characters: a retry with the same key and body creates nothing more",
            schema: json!({"type": "string", "pattern": IDEMPOTENCY_KEY,
                "x-message": "is 1 to 255 visible ASCII characters"}),
        }),
        _ => {}
    }
    params
}

/// Every route of the HTTP API.
pub const ROUTES: &[Route] = &[
    Route {
        op: Op::Healthz,
        method: "GET",
        path: "/healthz",
        function: Function::ApiSearch,
        summary: "Liveness: the deployment is up and its functions start",
        public: true,
    },
    Route {
        op: Op::Search,
        method: "POST",
        path: "/search",
        function: Function::ApiSearch,
        summary: "Search the caller's documents (hybrid, keyword or semantic), with citations",
        public: false,
    },
    Route {
        op: Op::UploadDocument,
        method: "POST",
        path: "/documents",
        function: Function::ApiDocuments,
        summary: "Upload a file in the request body (?name=…) and start its processing",
        public: false,
    },
    Route {
        op: Op::PresignUpload,
        method: "POST",
        path: "/uploads",
        function: Function::ApiDocuments,
        summary: "A pre-signed PUT for a file too large for one request",
        public: false,
    },
    Route {
        op: Op::ListDocuments,
        method: "GET",
        path: "/documents",
        function: Function::ApiDocuments,
        summary: "A page of the caller's documents",
        public: false,
    },
    Route {
        op: Op::GetDocument,
        method: "GET",
        path: "/documents/{id}",
        function: Function::ApiDocuments,
        summary: "One document and its status",
        public: false,
    },
    Route {
        op: Op::DocumentOriginal,
        method: "GET",
        path: "/documents/{id}/original",
        function: Function::ApiDocuments,
        summary: "A short-lived link to the document's original file (to open it at a page)",
        public: false,
    },
    Route {
        op: Op::DeleteDocument,
        method: "DELETE",
        path: "/documents/{id}",
        function: Function::ApiDocuments,
        summary: "Delete a document: its chunks, files and record",
        public: false,
    },
    Route {
        op: Op::Chat,
        method: "POST",
        path: "/chat",
        function: Function::ApiChat,
        summary: "One chat turn: an answer with citations, and what the assistant did",
        public: false,
    },
    Route {
        op: Op::ListConversations,
        method: "GET",
        path: "/conversations",
        function: Function::ApiChat,
        summary: "The caller's conversations, newest first",
        public: false,
    },
    Route {
        op: Op::GetConversation,
        method: "GET",
        path: "/conversations/{id}",
        function: Function::ApiChat,
        summary: "One conversation: its turns and the action waiting for confirmation",
        public: false,
    },
    Route {
        op: Op::DeleteConversation,
        method: "DELETE",
        path: "/conversations/{id}",
        function: Function::ApiChat,
        summary: "Deletes a conversation",
        public: false,
    },
    Route {
        op: Op::CreateTask,
        method: "POST",
        path: "/tasks",
        function: Function::ToolTasks,
        summary: "Add a task",
        public: false,
    },
    Route {
        op: Op::ListTasks,
        method: "GET",
        path: "/tasks",
        function: Function::ToolTasks,
        summary: "The caller's tasks",
        public: false,
    },
    Route {
        op: Op::CompleteTask,
        method: "POST",
        path: "/tasks/{id}/complete",
        function: Function::ToolTasks,
        summary: "Mark a task done",
        public: false,
    },
    Route {
        op: Op::DeleteTask,
        method: "DELETE",
        path: "/tasks/{id}",
        function: Function::ToolTasks,
        summary: "Delete a task",
        public: false,
    },
    Route {
        op: Op::EditTask,
        method: "PATCH",
        path: "/tasks/{id}",
        function: Function::ToolTasks,
        summary: "Change a task's title or due time",
        public: false,
    },
    Route {
        op: Op::CreateReminder,
        method: "POST",
        path: "/reminders",
        function: Function::ToolReminders,
        summary: "Set a reminder",
        public: false,
    },
    Route {
        op: Op::ListReminders,
        method: "GET",
        path: "/reminders",
        function: Function::ToolReminders,
        summary: "The caller's upcoming reminders",
        public: false,
    },
    Route {
        op: Op::CancelReminder,
        method: "DELETE",
        path: "/reminders/{id}",
        function: Function::ToolReminders,
        summary: "Cancel a reminder",
        public: false,
    },
    Route {
        op: Op::EditReminder,
        method: "PATCH",
        path: "/reminders/{id}",
        function: Function::ToolReminders,
        summary: "Change an upcoming reminder's text or time (rescheduled)",
        public: false,
    },
    Route {
        op: Op::CreateDraft,
        method: "POST",
        path: "/emails/drafts",
        function: Function::ToolEmail,
        summary: "Save an e-mail draft (not sent)",
        public: false,
    },
    Route {
        op: Op::ListDrafts,
        method: "GET",
        path: "/emails/drafts",
        function: Function::ToolEmail,
        summary: "The caller's e-mail drafts",
        public: false,
    },
    Route {
        op: Op::SendDraft,
        method: "POST",
        path: "/emails/drafts/{id}/send",
        function: Function::ToolEmail,
        summary: "Send a draft, exactly once, when confirmed",
        public: false,
    },
    Route {
        op: Op::EditDraft,
        method: "PATCH",
        path: "/emails/drafts/{id}",
        function: Function::ToolEmail,
        summary: "Change an unsent draft (its confirm_token changes with it)",
        public: false,
    },
    Route {
        op: Op::EraseData,
        method: "DELETE",
        path: "/me/data",
        function: Function::ApiMe,
        summary: "Start erasing everything of the caller",
        public: false,
    },
    Route {
        op: Op::ErasureStatus,
        method: "GET",
        path: "/me/data/erasure",
        function: Function::ApiMe,
        summary: "Where the caller's erasure stands",
        public: false,
    },
    Route {
        op: Op::Export,
        method: "GET",
        path: "/me/export",
        function: Function::ApiMe,
        summary: "A zip of the caller's documents, files and records",
        public: false,
    },
    Route {
        op: Op::GetSettings,
        method: "GET",
        path: "/me/settings",
        function: Function::ApiMe,
        summary: "The caller's settings",
        public: false,
    },
    Route {
        op: Op::PutSettings,
        method: "PUT",
        path: "/me/settings",
        function: Function::ApiMe,
        summary: "Change the caller's settings (time zone)",
        public: false,
    },
    Route {
        op: Op::PutNotifications,
        method: "PUT",
        path: "/me/notifications",
        function: Function::ApiMe,
        summary: "Mail the caller's reminders to an address",
        public: false,
    },
    Route {
        op: Op::DeleteNotifications,
        method: "DELETE",
        path: "/me/notifications",
        function: Function::ApiMe,
        summary: "Stop mailing the caller's reminders",
        public: false,
    },
];

/// The route with this key (`"GET /documents/{id}"`).
pub fn find(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ops_are_unique_and_params_read() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a route is declared twice");
        let ops: std::collections::HashSet<Op> = ROUTES.iter().map(|r| r.op).collect();
        assert_eq!(ops.len(), n, "an op has two routes");
        for r in ROUTES {
            assert_eq!(find(&r.key()), Some(r));
        }
        assert_eq!(
            find("POST /emails/drafts/{id}/send").unwrap().params(),
            ["id"]
        );
        assert!(find("GET /healthz").unwrap().public);
        assert_eq!(ROUTES.iter().filter(|r| r.public).count(), 1);
        assert_eq!(find("GET /nowhere"), None);
        assert_eq!(find("nonsense"), None);
    }
}
