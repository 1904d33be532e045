//! Writing a compiled Sigma rule as laneguard TOML: the `[match]` table of an [`Expr`], and the
//! rule file around it. The loader compiles exactly this text, so `laneguard sigma convert`
//! prints what runs.

use std::fmt::Write as _;

use super::detection::Expr;

/// The `[match]` table of a condition: `all` parts merged into one table while their keys do
/// not collide (the rest go to `all`), `any` as an array of tables, `not` as a table.
pub fn table(e: &Expr) -> toml::Table {
    let mut t = toml::Table::new();
    match e {
        Expr::Leaf(f, v) => {
            t.insert(f.clone(), v.clone());
        }
        Expr::Any(parts) => {
            let items = parts.iter().map(|p| toml::Value::Table(table(p))).collect();
            t.insert("any".into(), toml::Value::Array(items));
        }
        Expr::Not(p) => {
            t.insert("not".into(), toml::Value::Table(table(p)));
        }
        Expr::All(parts) => {
            for p in parts {
                let pt = table(p);
                if pt.keys().all(|k| !t.contains_key(k)) {
                    t.extend(pt);
                } else if let Some(toml::Value::Array(list)) = t.get_mut("all") {
                    list.push(toml::Value::Table(pt));
                } else {
                    t.insert("all".into(), toml::Value::Array(vec![toml::Value::Table(pt)]));
                }
            }
        }
    }
    t
}

/// A key as TOML writes it: bare when it can be, quoted otherwise (field paths have dots).
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        k.to_owned()
    } else {
        toml::Value::String(k.to_owned()).to_string()
    }
}

/// Whether an entry is a combinator written as its own section (`[match.not]`,
/// `[[match.any]]`) rather than inline.
fn section_entry(k: &str, v: &toml::Value) -> bool {
    match (k, v) {
        ("not", toml::Value::Table(_)) => true,
        ("any" | "all", toml::Value::Array(items)) => items.iter().all(toml::Value::is_table),
        _ => false,
    }
}

/// Write `t` as the section `header` (`[header]`, or `[[header]]` for an array element), its
/// plain entries inline and its combinators as sub-sections.
pub fn section(out: &mut String, header: &str, array: bool, t: &toml::Table) {
    let _ = if array {
        writeln!(out, "[[{header}]]")
    } else {
        writeln!(out, "[{header}]")
    };
    for (k, v) in t.iter().filter(|(k, v)| !section_entry(k, v)) {
        let _ = writeln!(out, "{} = {v}", key(k));
    }
    for (k, v) in t.iter().filter(|(k, v)| section_entry(k, v)) {
        let sub = format!("{header}.{}", key(k));
        match v {
            toml::Value::Table(st) => section(out, &sub, false, st),
            toml::Value::Array(items) => {
                for st in items.iter().filter_map(toml::Value::as_table) {
                    section(out, &sub, true, st);
                }
            }
            _ => {}
        }
    }
}

/// `key = value` lines of the top of a rule file, in order.
pub fn entries(out: &mut String, items: &[(&str, toml::Value)]) {
    for (k, v) in items {
        let _ = writeln!(out, "{} = {v}", key(k));
    }
}

/// A list of strings as a TOML value.
pub fn strings(v: &[String]) -> toml::Value {
    toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(f: &str, v: i64) -> Expr {
        Expr::Leaf(f.into(), toml::Value::Integer(v))
    }

    #[test]
    fn colliding_keys_go_to_all_and_sections_nest() {
        let e = Expr::All(vec![
            leaf("api.action", 1),
            leaf("api.action", 2),
            Expr::Any(vec![leaf("a", 1), Expr::Not(Box::new(leaf("b", 2)))]),
            Expr::Not(Box::new(leaf("c", 3))),
        ]);
        let mut out = String::new();
        section(&mut out, "match", false, &table(&e));
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["match"].as_table().unwrap(), &table(&e), "{out}");
        assert!(out.contains("\"api.action\" = 1"), "{out}");
        assert!(out.contains("[[match.all]]"), "{out}");
        assert!(out.contains("[match.any.not]"), "{out}");
        assert!(out.contains("[match.not]"), "{out}");
    }
}
