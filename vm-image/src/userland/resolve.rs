//! Which Debian packages the userland needs: the closure of the wanted packages over `Pre-Depends`
//! and `Depends` (never `Recommends`), as apt would pick it on a single suite.
//!
//! Versions are not compared: one suite of one architecture lists one version of each package, and
//! that is the one taken. For an alternative (`a | b`) the first one already chosen wins, else the
//! first alternative that is a real package or, for a virtual one, has a provider (the first by
//! name).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::index::IndexEntry;

/// Every package of one suite and architecture, and who provides each virtual name.
#[derive(Debug, Default)]
pub struct Universe {
    by_name: BTreeMap<String, IndexEntry>,
    providers: BTreeMap<String, BTreeSet<String>>,
}

/// The name of one relation (`libc6 (>= 2.34)`, `python3:any`, `foo [amd64] <!nocheck>` → the
/// bare package name).
pub fn relation_name(relation: &str) -> &str {
    let name = relation
        .trim()
        .split(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
        .next()
        .unwrap_or("");
    name.split(':').next().unwrap_or(name)
}

/// A `Depends:` value as groups of alternatives.
pub fn parse_depends(value: &str) -> Vec<Vec<&str>> {
    value
        .split(',')
        .map(|group| {
            group
                .split('|')
                .map(relation_name)
                .filter(|n| !n.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

impl Universe {
    /// Indexes `entries` (later duplicates of a name replace earlier ones).
    pub fn new(entries: impl IntoIterator<Item = IndexEntry>) -> Self {
        let mut universe = Universe::default();
        for entry in entries {
            for provided in entry.provides.split(',').map(relation_name) {
                if !provided.is_empty() {
                    universe
                        .providers
                        .entry(provided.to_string())
                        .or_default()
                        .insert(entry.package.clone());
                }
            }
            universe.by_name.insert(entry.package.clone(), entry);
        }
        universe
    }

    /// The packages `wanted` needs, `wanted` included, sorted by name. Names in `excluded` are never
    /// chosen: a dependency only they could satisfy is an error.
    pub fn closure(&self, wanted: &[&str], excluded: &[&str]) -> Result<Vec<IndexEntry>, String> {
        self.closure_over(&[], wanted, excluded)
    }

    /// Like [`Universe::closure`], on top of packages already chosen (`base`, complete in
    /// itself): their choices stand, so an addition never brings a second package for a
    /// dependency `base` already satisfied. The result includes `base`.
    pub fn closure_over(
        &self,
        base: &[IndexEntry],
        wanted: &[&str],
        excluded: &[&str],
    ) -> Result<Vec<IndexEntry>, String> {
        let mut chosen: BTreeSet<String> = base.iter().map(|e| e.package.clone()).collect();
        let mut provided: BTreeSet<String> = base
            .iter()
            .flat_map(|e| e.provides.split(','))
            .map(relation_name)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let mut queue: VecDeque<String> = VecDeque::new();
        let choose = |name: &str,
                      chosen: &mut BTreeSet<String>,
                      provided: &mut BTreeSet<String>,
                      queue: &mut VecDeque<String>| {
            if chosen.insert(name.to_string()) {
                if let Some(entry) = self.by_name.get(name) {
                    provided.extend(
                        entry
                            .provides
                            .split(',')
                            .map(relation_name)
                            .filter(|p| !p.is_empty())
                            .map(str::to_string),
                    );
                }
                queue.push_back(name.to_string());
            }
        };
        for name in wanted {
            if !self.by_name.contains_key(*name) {
                return Err(format!("package {name} is not in the index"));
            }
            choose(name, &mut chosen, &mut provided, &mut queue);
        }
        while let Some(name) = queue.pop_front() {
            let Some(entry) = self.by_name.get(&name) else {
                continue;
            };
            for group in parse_depends(&entry.depends) {
                if group
                    .iter()
                    .any(|alt| chosen.contains(*alt) || provided.contains(*alt))
                {
                    continue;
                }
                let pick = group.iter().find_map(|alt| {
                    if self.by_name.contains_key(*alt) && !excluded.contains(alt) {
                        return Some(alt.to_string());
                    }
                    self.providers
                        .get(*alt)?
                        .iter()
                        .find(|p| !excluded.contains(&p.as_str()))
                        .cloned()
                });
                match pick {
                    Some(pick) => choose(&pick, &mut chosen, &mut provided, &mut queue),
                    None => {
                        return Err(format!(
                            "nothing satisfies `{}` (needed by {name})",
                            group.join(" | ")
                        ))
                    }
                }
            }
        }
        Ok(chosen
            .iter()
            .filter_map(|name| self.by_name.get(name).cloned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(package: &str, depends: &str, provides: &str) -> IndexEntry {
        IndexEntry {
            package: package.into(),
            version: "1".into(),
            filename: format!("pool/{package}.deb"),
            size: 1,
            sha256: "0".repeat(64),
            depends: depends.into(),
            provides: provides.into(),
            installed_kib: 1,
        }
    }

    #[test]
    fn relations_lose_versions_architectures_and_profiles() {
        assert_eq!(relation_name(" libc6 (>= 2.34)"), "libc6");
        assert_eq!(relation_name("python3:any"), "python3");
        assert_eq!(relation_name("foo [amd64] <!nocheck>"), "foo");
        assert_eq!(
            parse_depends("a (>= 1) | b, c:any"),
            vec![vec!["a", "b"], vec!["c"]]
        );
    }

    #[test]
    fn the_closure_follows_depends_alternatives_and_virtual_packages() {
        let universe = Universe::new([
            entry("app", "libc, awk | mawk, debconf-2.0", ""),
            entry("libc", "", ""),
            entry("gawk", "libc", "awk"),
            entry("mawk", "", ""),
            entry("cdebconf", "", "debconf-2.0"),
            entry("debconf", "", "debconf-2.0"),
            entry("unused", "", ""),
            entry("needs-gawk", "gawk", ""),
            entry("office", "debconf | debconf-2.0", ""),
        ]);
        let names = |v: Vec<IndexEntry>| v.into_iter().map(|e| e.package).collect::<Vec<_>>();
        // `awk` is virtual: its provider comes in, not the second alternative.
        assert_eq!(
            names(universe.closure(&["app"], &[]).unwrap()),
            vec!["app", "cdebconf", "gawk", "libc"]
        );
        // A chosen provider satisfies later groups.
        assert_eq!(
            names(
                universe
                    .closure(&["needs-gawk", "app"], &["cdebconf"])
                    .unwrap()
            ),
            vec!["app", "debconf", "gawk", "libc", "needs-gawk"]
        );
        assert!(universe.closure(&["nope"], &[]).is_err());
        // On top of a base that chose cdebconf, an addition needing debconf-2.0 keeps it.
        let base = universe.closure(&["app"], &[]).unwrap();
        assert_eq!(
            names(universe.closure_over(&base, &["office"], &[]).unwrap()),
            vec!["app", "cdebconf", "gawk", "libc", "office"]
        );
        let err = universe
            .closure(&["app"], &["cdebconf", "debconf"])
            .unwrap_err();
        assert!(err.contains("debconf-2.0"), "{err}");
    }
}
