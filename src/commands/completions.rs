//! `poolcap completions` and `poolcap man`: the command line described for
//! shells (clap_complete) and for `man` (clap_mangen), from the clap definition.

use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::ExitStatus;
use crate::render::Printer;

/// Prints the completion script of `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "poolcap", &mut script);
    printer.out(&String::from_utf8_lossy(&script))?;
    Ok(ExitStatus::Ok)
}

/// Writes `poolcap.1` and a page per subcommand (`poolcap-plan.1`,
/// `poolcap-export-grafana.1`, …) into `args.out`.
pub fn man(args: &ManArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot make the man page folder", args.out.display()))?;
    let mut command = Cli::command();
    command.build();
    let mut pages: Vec<(String, Vec<u8>)> = Vec::new();
    collect(&command, "poolcap", &mut pages)?;
    let changes: Vec<crate::write::atomic::FileChange> = pages
        .iter()
        .map(|(name, bytes)| crate::write::atomic::FileChange {
            path: args.out.join(name),
            expect: crate::write::atomic::Expect::Anything,
            contents: bytes.clone(),
        })
        .collect();
    crate::write::atomic::replace_all(&changes, &crate::write::atomic::WriteOptions::default())?;
    for (name, _) in &pages {
        printer.note(&format!("wrote {}", PathBuf::from(&args.out).join(name).display()));
    }
    Ok(ExitStatus::Ok)
}

/// The page of `command` (named `name`) and of each of its subcommands.
fn collect(command: &clap::Command, name: &str, pages: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let page = command.clone().name(name.to_string());
    let mut bytes = Vec::new();
    clap_mangen::Man::new(page).render(&mut bytes)?;
    pages.push((format!("{name}.1"), bytes));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}
