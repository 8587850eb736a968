//! `poolcap loadtest`'s report for people: Markdown (the report file and the
//! terminal), from `templates/loadtest-report.md.j2`.

use crate::ops::loadtest::LoadTestReport;

/// The report template.
pub const TEMPLATE: &str = include_str!("../../templates/loadtest-report.md.j2");

/// The report as Markdown.
pub fn markdown(report: &LoadTestReport) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    crate::support::markdown::register(&mut env);
    env.add_template("loadtest", TEMPLATE)?;
    let text = env
        .get_template("loadtest")?
        .render(minijinja::context! { r => minijinja::Value::from(minijinja::value::Serde(report)) })?;
    Ok(text)
}
