//! The HTTP API's routes, declared once: the method, the path (API Gateway's
//! route-key form, `{id}` for a path parameter), the function that answers
//! it, and whether it needs a signed-in caller. Terraform's route map
//! (`terraform/modules/functions/catalog.tf`) is checked against this table by
//! tests/infra, the local runtime serves every route in it, and the OpenAPI
//! document (`GET /openapi.json`) is built from it.

/// One route of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The function crate that answers it.
    pub function: &'static str,
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

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        function,
        summary,
        public: false,
    }
}

/// Every route of the HTTP API.
pub const ROUTES: &[Route] = &[
    Route {
        public: true,
        ..route(
            "GET",
            "/healthz",
            "api-search",
            "Liveness: the deployment is up and its functions start",
        )
    },
    route(
        "POST",
        "/search",
        "api-search",
        "Search the caller's documents (hybrid, keyword or semantic), with citations",
    ),
    route(
        "POST",
        "/documents",
        "api-documents",
        "Upload a file in the request body (?name=…) and start its processing",
    ),
    route(
        "POST",
        "/uploads",
        "api-documents",
        "A pre-signed PUT for a file too large for one request",
    ),
    route(
        "GET",
        "/documents",
        "api-documents",
        "A page of the caller's documents",
    ),
    route(
        "GET",
        "/documents/{id}",
        "api-documents",
        "One document and its status",
    ),
    route(
        "DELETE",
        "/documents/{id}",
        "api-documents",
        "Delete a document: its chunks, files and record",
    ),
    route(
        "POST",
        "/chat",
        "api-chat",
        "One chat turn: an answer with citations, and what the assistant did",
    ),
    route("POST", "/tasks", "tool-tasks", "Add a task"),
    route("GET", "/tasks", "tool-tasks", "The caller's tasks"),
    route(
        "POST",
        "/tasks/{id}/complete",
        "tool-tasks",
        "Mark a task done",
    ),
    route("DELETE", "/tasks/{id}", "tool-tasks", "Delete a task"),
    route("POST", "/reminders", "tool-reminders", "Set a reminder"),
    route(
        "GET",
        "/reminders",
        "tool-reminders",
        "The caller's upcoming reminders",
    ),
    route(
        "DELETE",
        "/reminders/{id}",
        "tool-reminders",
        "Cancel a reminder",
    ),
    route(
        "POST",
        "/emails/drafts",
        "tool-email",
        "Save an e-mail draft (not sent)",
    ),
    route(
        "GET",
        "/emails/drafts",
        "tool-email",
        "The caller's e-mail drafts",
    ),
    route(
        "POST",
        "/emails/drafts/{id}/send",
        "tool-email",
        "Send a draft, exactly once, when confirmed",
    ),
    route(
        "DELETE",
        "/me/data",
        "api-me",
        "Start erasing everything of the caller",
    ),
    route(
        "GET",
        "/me/data/erasure",
        "api-me",
        "Where the caller's erasure stands",
    ),
    route(
        "GET",
        "/me/export",
        "api-me",
        "A zip of the caller's documents, files and records",
    ),
    route("GET", "/me/settings", "api-me", "The caller's settings"),
    route(
        "PUT",
        "/me/settings",
        "api-me",
        "Change the caller's settings (time zone)",
    ),
    route(
        "PUT",
        "/me/notifications",
        "api-me",
        "Mail the caller's reminders to an address",
    ),
    route(
        "DELETE",
        "/me/notifications",
        "api-me",
        "Stop mailing the caller's reminders",
    ),
];

/// The route with this key (`"GET /documents/{id}"`).
pub fn find(key: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.key() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_params_read() {
        let mut keys: Vec<String> = ROUTES.iter().map(Route::key).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a route is declared twice");
        assert_eq!(
            find("POST /emails/drafts/{id}/send").unwrap().params(),
            ["id"]
        );
        assert!(find("GET /healthz").unwrap().public);
        assert_eq!(ROUTES.iter().filter(|r| r.public).count(), 1);
    }
}
