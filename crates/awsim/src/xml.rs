//! A minimal, allocation-light scanner for the well-formed XML moto produces, enough to find
//! a resource's record by its identifier and rewrite its status in place.

/// One element of a document.
#[derive(Debug, Clone)]
pub struct Elem {
    /// Tag name without namespace prefix handling (moto emits none).
    pub name: String,
    /// Offset of the `<` of the start tag.
    pub start: usize,
    /// Offset just after the start tag's `>`.
    pub inner_start: usize,
    /// Offset of the `<` of the end tag (== inner_start for `<x/>`).
    pub inner_end: usize,
    /// Offset just after the end tag's `>`.
    pub end: usize,
    /// Index of the parent element.
    pub parent: Option<usize>,
}

/// Scans `xml` into its elements, in document order of their start tags.
pub fn scan(xml: &str) -> Vec<Elem> {
    let b = xml.as_bytes();
    let mut elems: Vec<Elem> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let Some(rel) = xml[i..].find('>') else { break };
        let close = i + rel;
        let tag = &xml[i + 1..close];
        if tag.starts_with('?') || tag.starts_with('!') {
            i = close + 1;
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if let Some(idx) = stack.pop() {
                debug_assert_eq!(elems[idx].name, name.trim());
                elems[idx].inner_end = i;
                elems[idx].end = close + 1;
            }
        } else {
            let self_closing = tag.ends_with('/');
            let name = tag
                .trim_end_matches('/')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            let idx = elems.len();
            elems.push(Elem {
                name,
                start: i,
                inner_start: close + 1,
                inner_end: close + 1,
                end: close + 1,
                parent: stack.last().copied(),
            });
            if !self_closing {
                stack.push(idx);
            }
        }
        i = close + 1;
    }
    elems
}

/// The text of a direct child element named `child` of element `parent`.
pub fn child_text<'a>(xml: &'a str, elems: &[Elem], parent: usize, child: &str) -> Option<&'a str> {
    elems
        .iter()
        .find(|e| e.parent == Some(parent) && e.name == child)
        .map(|e| &xml[e.inner_start..e.inner_end])
}

/// What to do with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Leave it alone.
    Keep,
    /// Replace the text of every element reached by any of `paths` (relative to the record).
    Set(String),
    /// Remove the record entirely.
    Remove,
}

/// Finds every element named `record` with a direct child `id_tag`, asks `decide(id)` what to
/// do, and applies it. `paths` lists child paths (e.g. `["State", "Code"]`) whose text `Set`
/// replaces; a path of one name whose first element is `*` matches that name at any depth.
pub fn rewrite_records(
    xml: &str,
    record: &str,
    id_tag: &str,
    paths: &[&[&str]],
    mut decide: impl FnMut(&str) -> Edit,
) -> String {
    let elems = scan(xml);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (idx, e) in elems.iter().enumerate() {
        if e.name != record {
            continue;
        }
        let Some(id) = child_text(xml, &elems, idx, id_tag) else {
            continue;
        };
        match decide(id) {
            Edit::Keep => {}
            Edit::Remove => edits.push((e.start, e.end, String::new())),
            Edit::Set(value) => {
                for path in paths {
                    for target in resolve(&elems, idx, path) {
                        let t = &elems[target];
                        edits.push((t.inner_start, t.inner_end, value.clone()));
                    }
                }
            }
        }
    }
    apply(xml, edits)
}

fn resolve(elems: &[Elem], root: usize, path: &[&str]) -> Vec<usize> {
    if let ["*", name] = path {
        let within = |i: usize| {
            let mut p = elems[i].parent;
            while let Some(pi) = p {
                if pi == root {
                    return true;
                }
                p = elems[pi].parent;
            }
            false
        };
        return (0..elems.len())
            .filter(|&i| elems[i].name == *name && within(i))
            .collect();
    }
    let mut current = vec![root];
    for name in path {
        current = current
            .iter()
            .flat_map(|&p| {
                elems
                    .iter()
                    .enumerate()
                    .filter(move |(_, e)| e.parent == Some(p) && e.name == *name)
                    .map(|(i, _)| i)
            })
            .collect();
    }
    current
}

/// Applies non-overlapping (start, end, replacement) edits.
pub fn apply(xml: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = xml.to_string();
    let mut last_start = usize::MAX;
    for (start, end, text) in edits {
        if end <= last_start {
            out.replace_range(start..end, &text);
            last_start = start;
        }
    }
    out
}

/// Inserts `blocks` as the last children of the first element named `container`
/// (expanding `<container/>` if needed). Returns `xml` unchanged if there is no such element.
pub fn insert_into(xml: &str, container: &str, blocks: &str) -> String {
    let elems = scan(xml);
    let Some(e) = elems.iter().find(|e| e.name == container) else {
        return xml.to_string();
    };
    if e.end == e.inner_start {
        let mut out = xml.to_string();
        out.replace_range(
            e.start..e.end,
            &format!("<{container}>{blocks}</{container}>"),
        );
        out
    } else {
        let mut out = xml.to_string();
        out.insert_str(e.inner_end, blocks);
        out
    }
}

/// The full text of the first element named `record` with child `id_tag` == `id`.
pub fn extract_record(xml: &str, record: &str, id_tag: &str, id: &str) -> Option<String> {
    let elems = scan(xml);
    elems.iter().enumerate().find_map(|(idx, e)| {
        (e.name == record && child_text(xml, &elems, idx, id_tag) == Some(id))
            .then(|| xml[e.start..e.end].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LB: &str = "<?xml version=\"1.0\"?><R><LoadBalancers><member><LoadBalancerArn>a1</LoadBalancerArn><State><Code>active</Code></State><AvailabilityZones><member><ZoneName>z</ZoneName></member></AvailabilityZones></member><member><LoadBalancerArn>a2</LoadBalancerArn><State><Code>active</Code></State></member></LoadBalancers></R>";

    #[test]
    fn rewrites_only_matching_record() {
        let out = rewrite_records(
            LB,
            "member",
            "LoadBalancerArn",
            &[&["State", "Code"]],
            |id| {
                if id == "a2" {
                    Edit::Set("provisioning".into())
                } else {
                    Edit::Keep
                }
            },
        );
        assert!(out.contains("<LoadBalancerArn>a1</LoadBalancerArn><State><Code>active</Code>"));
        assert!(
            out.contains("<LoadBalancerArn>a2</LoadBalancerArn><State><Code>provisioning</Code>")
        );
    }

    #[test]
    fn deep_paths_remove_and_insert() {
        let x = "<A><Gs><G><Id>g</Id><Status>available</Status><N><Status>available</Status></N></G><G><Id>h</Id></G></Gs></A>";
        let out = rewrite_records(x, "G", "Id", &[&["*", "Status"]], |_| {
            Edit::Set("creating".into())
        });
        assert_eq!(out.matches("creating").count(), 2);
        let out = rewrite_records(x, "G", "Id", &[], |id| {
            if id == "h" { Edit::Remove } else { Edit::Keep }
        });
        assert!(!out.contains("<Id>h</Id>"));
        let y = insert_into("<A><Gs/></A>", "Gs", "<G><Id>z</Id></G>");
        assert_eq!(y, "<A><Gs><G><Id>z</Id></G></Gs></A>");
        assert_eq!(
            extract_record(x, "G", "Id", "h").as_deref(),
            Some("<G><Id>h</Id></G>")
        );
    }
}
