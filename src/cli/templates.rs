//! `promptlab templates`: what `--template` accepts.

use serde_json::json;

use crate::cli::TemplatesArgs;
use crate::store::template::list;

/// Prints the list: JSON as it is, the table with every character made visible.
pub fn print(args: &TemplatesArgs) -> Result<bool, String> {
    let text = templates(args);
    if args.json {
        super::out::raw(&text)?;
    } else {
        super::out::show(&text)?;
    }
    Ok(true)
}

pub fn templates(args: &TemplatesArgs) -> String {
    let listed = list();
    if args.json {
        let rows: Vec<_> = listed
            .iter()
            .map(|l| match &l.template {
                Ok(t) => json!({"name": l.name, "strategy": t.strategy, "description": t.description, "source": l.origin.to_string()}),
                Err(e) => json!({"name": l.name, "error": e.to_string(), "source": l.origin.to_string()}),
            })
            .collect();
        return serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n";
    }
    let w = listed.iter().map(|l| l.name.len()).max().unwrap_or(4);
    let mut out = format!("{:<w$}  {:<13}  description\n", "name", "strategy");
    for l in &listed {
        match &l.template {
            Ok(t) => out.push_str(&format!(
                "{:<w$}  {:<13}  {}\n",
                l.name,
                t.strategy.as_str(),
                t.description
            )),
            Err(e) => out.push_str(&format!("{:<w$}  {:<13}  {e}\n", l.name, "(broken)")),
        }
    }
    out
}
