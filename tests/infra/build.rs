//! One build serves `make test` and `make run`: every third-party crate the
//! local runtime needs is compiled with the same features in the test build, so
//! `make run` after `make test` reuses those artifacts instead of compiling the
//! dependency tree a second time (cargo keys an artifact by its features).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// package (`name vX.Y.Z`, with its path for workspace crates) → the feature
/// sets cargo builds it with for these arguments (one for the target, and one for
/// build scripts and proc-macros when those differ).
fn resolved(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(super::repo())
        .args([
            "tree",
            "--offline",
            "--prefix",
            "none",
            "--format",
            "{p}|{f}",
        ])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line
            .trim_end_matches(" (*)")
            .trim_end_matches(" (proc-macro)");
        if let Some((package, features)) = line.split_once('|') {
            packages
                .entry(package.to_owned())
                .or_default()
                .insert(features.to_owned());
        }
    }
    packages
}

#[test]
fn run_and_test_share_one_build() {
    // `cargo nextest run --workspace` (dev-dependencies too) against `cargo run
    // -p jarvis`: first what is compiled for the target (no build scripts or
    // proc-macros, so each crate has exactly one feature set), then everything.
    let target_only = differences(
        &resolved(&["--workspace", "--edges", "normal,dev,no-proc-macro"]),
        &resolved(&["-p", "jarvis", "--edges", "normal,no-proc-macro"]),
    );
    let all = differences(
        &resolved(&["--workspace"]),
        &resolved(&["-p", "jarvis", "--edges", "normal,build"]),
    );
    let differ: BTreeSet<String> = target_only.into_iter().chain(all).collect();
    assert!(
        differ.is_empty(),
        "make run after make test would compile these (and all above them) again; \
         turn the missing features on in runtime/Cargo.toml's list:\n{}",
        differ.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// What `run` builds with a feature set `test` does not build it with.
fn differences(
    test: &BTreeMap<String, BTreeSet<String>>,
    run: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    assert!(run.len() > 100, "cargo tree listed too little: {run:?}");
    let mut differ = Vec::new();
    for (package, features) in run {
        // The function crates are built with their `aws` feature for the adapter
        // tests and without it for the runtime: they (and the runtime above them)
        // compile again, by design: the runtime must not build the AWS SDK.
        if package.contains("/functions/") {
            assert!(
                test.get(package)
                    .is_some_and(|t| t.iter().any(|f| f.split(',').any(|f| f == "aws"))),
                "{package}: the test build should be the one with `aws`"
            );
            continue;
        }
        let built = test.get(package);
        for f in features {
            if !built.is_some_and(|t| t.contains(f)) {
                let t: Vec<String> = built
                    .into_iter()
                    .flatten()
                    .map(|t| format!("[{t}]"))
                    .collect();
                differ.push(format!(
                    "{package}: make run builds it with [{f}], the tests with {}",
                    if t.is_empty() {
                        "nothing".into()
                    } else {
                        t.join(" and ")
                    }
                ));
            }
        }
    }
    differ
}

/// Every crate whose library says `test = false` (no unit-test binary to
/// compile and link: each one links the whole AWS SDK) has no unit test in
/// its sources — one added there would otherwise never run.
#[test]
fn no_unit_test_hides_in_a_crate_built_without_its_test_binary() {
    let root = super::repo();
    let mut skipped = 0;
    for dir in ["functions", "shared"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("the crates' folder") {
            let krate = entry.expect("a crate").path();
            let Ok(manifest) = std::fs::read_to_string(krate.join("Cargo.toml")) else {
                continue;
            };
            let lib = manifest
                .split("\n[")
                .find(|section| section.starts_with("lib]"))
                .unwrap_or_default();
            if !lib.lines().any(|l| l.trim() == "test = false") {
                continue;
            }
            skipped += 1;
            let mut stack = vec![krate.join("src")];
            while let Some(path) = stack.pop() {
                if path.is_dir() {
                    stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for marker in ["#[test]", "#[tokio::test]", "proptest!"] {
                        assert!(
                            !text.contains(marker),
                            "{} has {marker}, but its crate's [lib] says test = false: \
                             remove that line so the test runs",
                            path.display()
                        );
                    }
                }
            }
        }
    }
    assert!(
        skipped >= 10,
        "only {skipped} crates skip their test binary"
    );
}
