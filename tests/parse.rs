//! `jarvis-parse`: the document parsers' child process for the tests (what
//! `jarvis __parse` and the extract Lambda's `bootstrap __parse` are deployed):
//! integration tests point `JARVIS_PARSER` (or a `Sandbox`) at it.

fn main() {
    jarvis_extract::sandbox::serve_child_if_asked();
    eprintln!("usage: jarvis-parse __parse (the request on stdin)");
    std::process::exit(2);
}
