//! The layout rules the code must keep, read from the source tree: no crate's modules
//! import each other in a circle, and a domain depends on another domain only for a real
//! relation, never for shared words (those live in `modules/common`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names `text` reaches through `crate::<name>` (a module or item at the crate root).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` inside a macro names the crate the macro is defined in: the same rule.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// Top-level module → the other top-level modules it uses, for one crate's `src`. Unit
/// tests (`#[cfg(test)]` to the end of a file) are left out: a test may use anything.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("inside src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_owned())
            .expect("a name");
        if ["lib", "main", "bin"].contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let uses = graph.entry(top.clone()).or_default();
        uses.extend(crate_paths(code).into_iter().filter(|m| *m != top));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for uses in graph.values_mut() {
        uses.retain(|m| modules.contains(m));
    }
    graph
}

/// A circle of modules, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

const CRATES: [&str; 11] = [
    "api",
    "entity",
    "migration",
    "modules/kernel",
    "modules/common",
    "modules/tenancy",
    "modules/backbone",
    "modules/marketplace",
    "modules/orders",
    "modules/inventory",
    "modules/analytics",
];

#[test]
fn no_crate_has_modules_that_import_each_other_in_a_circle() {
    for krate in CRATES {
        let graph = module_graph(&root().join(krate).join("src"));
        assert!(graph.len() >= 2, "{krate}: no modules read");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{krate}: modules import each other in a circle: {}",
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    let cycle = find_cycle(&graph).expect("a circle");
    assert_eq!(cycle.first(), cycle.last(), "{cycle:?}");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    assert_eq!(
        crate_paths("use crate::a::X; $crate::b::y(); my_crate::c; crate::d"),
        ["a", "b", "d"].into_iter().map(str::to_owned).collect()
    );
}

/// The domain crates a crate's Cargo.toml depends on.
fn domain_dependencies(krate: &str) -> BTreeSet<String> {
    let manifest =
        std::fs::read_to_string(root().join(krate).join("Cargo.toml")).expect("manifest");
    [
        "ils-tenancy",
        "ils-backbone",
        "ils-marketplace",
        "ils-orders",
        "ils-inventory",
    ]
    .into_iter()
    .filter(|d| {
        manifest
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{d}.")))
    })
    .map(str::to_owned)
    .collect()
}

#[test]
fn domains_depend_on_each_other_only_for_real_relations() {
    // Shared words come from ils-common; orders needs no other domain.
    assert!(domain_dependencies("modules/orders").is_empty());
    assert!(domain_dependencies("modules/backbone").is_empty());
    assert!(domain_dependencies("modules/common").is_empty());
    // Inventory links products to a supplier's catalog items: the marketplace's
    // CatalogItem ID, and nothing else of it.
    assert_eq!(
        domain_dependencies("modules/inventory"),
        BTreeSet::from(["ils-marketplace".to_owned()])
    );
    let mut files = Vec::new();
    rust_files(&root().join("modules/inventory/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for line in text.lines().filter(|l| l.contains("ils_marketplace::")) {
            assert!(
                line.contains("ils_marketplace::catalog::items::ITEM"),
                "{}: inventory uses the marketplace for more than its CatalogItem ID: {line}",
                file.display()
            );
        }
    }
    // Analytics reads orders and purchase orders (their events and ID kinds) to keep its
    // rollups: the two domains below it whose records it counts, and no other.
    assert_eq!(
        domain_dependencies("modules/analytics"),
        BTreeSet::from(["ils-orders".to_owned(), "ils-inventory".to_owned()])
    );
    // Tenancy and the marketplace need no other domain either.
    assert!(domain_dependencies("modules/marketplace").is_empty());
    assert!(domain_dependencies("modules/tenancy").is_empty());
}
