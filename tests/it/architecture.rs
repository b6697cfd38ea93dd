//! The architecture invariants of ARCHITECTURE.md, checked on the source: which top-level
//! module of the product may name which. Reading `crate::` paths (in `use` lines and in code,
//! comments and `#[cfg(test)]` modules left out) is enough: a module that breaks a wall has to
//! name what is behind it.
//!
//! Each rule is a list of what a module must not name; the checker itself is tested on a small
//! made-up tree, so that a rule that can no longer fail is noticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util;

/// Top-level module -> the top-level modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// What each module must not name, and why (the wording of ARCHITECTURE.md's invariants).
const WALLS: &[(&str, &[&str], &str)] = &[
    (
        "capture",
        &[
            "flow", "inspect", "stratum", "intel", "verdict", "output", "pipeline", "hosts", "metrics",
            "config",
        ],
        "capture/ imports nothing above it",
    ),
    (
        "decode",
        &["capture", "flow", "inspect", "stratum", "intel", "verdict", "output", "pipeline"],
        "decode names nothing above it",
    ),
    (
        "flow",
        &["stratum", "intel", "inspect", "output", "hosts", "metrics", "pipeline", "config", "cli"],
        "flow/ names no protocol module: it knows connections only",
    ),
    (
        "stratum",
        &["inspect", "output", "pipeline", "capture", "verdict", "hosts", "metrics"],
        "the protocol parsers know no inspector, verdict or output (a connection's `Side` is flow's)",
    ),
    ("intel", &["flow", "inspect", "output", "pipeline", "capture", "verdict"], "intel is below the flows"),
    ("verdict", &["output", "pipeline", "capture", "metrics"], "verdict builds the Event; outputs format it"),
    ("output", &["flow", "inspect", "pipeline", "capture"], "output/ formats only what the Event holds"),
    (
        "report",
        &["flow", "inspect", "pipeline", "capture", "output", "metrics"],
        "report/ renders what the records and the host table hold",
    ),
    ("stats", &["flow", "inspect", "pipeline", "capture", "output", "metrics"], "stats is the bottom"),
    ("time", &["flow", "inspect", "pipeline", "capture", "output", "stats"], "time is the bottom"),
];

/// Functions that derive facts: only the builder of the Event calls them, never a formatter.
const DERIVATIONS: &[&str] = &["agent::parse", "estimated_hashrate", "wallet::coin_of", "wallet::classify"];

/// Code of a file without comments and without its `#[cfg(test)]` items (test modules may use
/// whatever they test with).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let code = match trimmed.find("//") {
            Some(i) if !trimmed[..i].contains('"') => &trimmed[..i],
            _ => trimmed,
        };
        if code.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if pending_test && skip_depth.is_none() {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else {
                // A one-line test item (`use`, a const): left out.
                depth += opens - closes;
                continue;
            }
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The `crate::X` names in `code`, with the `use crate::{a, b::c}` form too.
fn named(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            for part in inner[..end].split(',') {
                let first: String =
                    part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !first.is_empty() {
                    names.insert(first);
                }
            }
        } else {
            let first: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !first.is_empty() {
                names.insert(first);
            }
        }
    }
    names
}

/// The graph of a source tree given as (path below src/, text) pairs; also every file's code.
fn graph_of(files: &[(String, String)]) -> (Graph, Vec<(String, String)>) {
    let mut graph = Graph::new();
    let mut codes = Vec::new();
    for (path, text) in files {
        let top = path.split('/').next().unwrap_or("").trim_end_matches(".rs").to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let code = code_of(text);
        let deps = graph.entry(top.clone()).or_default();
        for n in named(&code) {
            if n != top && n != "self" && n != "super" {
                deps.insert(n);
            }
        }
        codes.push((path.clone(), code));
    }
    (graph, codes)
}

/// Every broken rule, one line each.
fn violations(graph: &Graph, codes: &[(String, String)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (module, forbidden, why) in WALLS {
        if let Some(deps) = graph.get(*module) {
            for f in forbidden.iter().filter(|f| deps.contains(**f)) {
                bad.push(format!("{module} names {f}: {why}"));
            }
        }
    }
    for (path, code) in codes {
        if path.starts_with("output") || path.starts_with("report") {
            for d in DERIVATIONS.iter().filter(|d| code.contains(**d)) {
                bad.push(format!("{path} calls {d}: output/ and report/ format only what the Event holds"));
            }
        }
        if code.contains("testkit") {
            bad.push(format!("{path} names testkit outside its tests: the test kit does not ship"));
        }
    }
    if let Some(cycle) = find_cycle(graph) {
        bad.push(format!("a circle among modules: {}", cycle.join(" -> ")));
    }
    bad
}

/// A circle of modules, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn product_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel =
                    p.strip_prefix(base).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
                let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                out.push((rel, text));
            }
        }
    }
    let src = util::repo_root().join("src");
    let mut out = Vec::new();
    walk(&src, &src, &mut out);
    out.sort();
    out
}

#[test]
fn the_product_keeps_its_architecture_invariants() {
    let files = product_sources();
    assert!(files.len() > 20, "found only {} source files", files.len());
    let (graph, codes) = graph_of(&files);
    for m in ["capture", "flow", "output", "verdict", "pipeline"] {
        assert!(graph.contains_key(m), "no module {m}: {graph:?}");
    }
    let bad = violations(&graph, &codes);
    assert!(bad.is_empty(), "architecture invariants broken:\n{}\n\nthe graph: {graph:#?}", bad.join("\n"));
}

#[test]
fn the_checker_sees_walls_broken_circles_and_derivations_in_formatters() {
    let f = |p: &str, t: &str| (p.to_string(), t.to_string());
    let files = vec![
        f("capture/shunt.rs", "use crate::flow::FlowTable;\n// crate::pipeline in a comment\n"),
        f("flow/mod.rs", "use crate::{stratum::Side, time::Ts};\nfn x() { crate::capture::y(); }\n"),
        f(
            "output/json.rs",
            "fn f() { let a = crate::stratum::agent::parse(s); }\n#[cfg(test)]\nmod tests {\n    use crate::pipeline::Z;\n}\n",
        ),
        f("pipeline/mod.rs", "#[cfg(test)]\nuse crate::output::x;\nfn ok() {}\n"),
    ];
    let (graph, codes) = graph_of(&files);
    assert_eq!(graph["flow"], ["capture", "stratum", "time"].iter().map(|s| s.to_string()).collect());
    assert!(!graph["output"].contains("pipeline"), "test modules are left out");
    assert!(!graph["pipeline"].contains("output"), "one-line test items are left out");
    assert!(!graph["capture"].contains("pipeline"), "comments are left out");
    let bad = violations(&graph, &codes);
    let has = |s: &str| bad.iter().any(|b| b.contains(s));
    assert!(has("capture names flow"), "{bad:#?}");
    assert!(has("flow names stratum"), "{bad:#?}");
    assert!(has("calls agent::parse"), "{bad:#?}");
    assert!(has("a circle among modules"), "{bad:#?}");
}
