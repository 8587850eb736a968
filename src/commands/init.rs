//! `poolcap init`: a commented `poolcap.toml` from the target files a
//! deployment already has ([`crate::ops::init`]).

use crate::cli::{GlobalArgs, InitArgs};
use crate::exit::ExitStatus;
use crate::ops::init::{InitRequest, init};
use crate::render::Printer;

/// Runs `poolcap init`.
pub fn run(_global: &GlobalArgs, args: &InitArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let request = InitRequest {
        out: args.out.clone(),
        env: args.env.clone(),
        toml: args.toml.clone(),
        yaml: args.yaml.clone(),
        services: args.services.clone(),
        probe: args.probe.clone(),
        force: args.force,
    };
    let services = init(&request, printer)?;
    printer.note(&format!(
        "wrote {} ({services} service{}); set replicas and processes_per_replica, then run `poolcap doctor --config {}`",
        args.out.display(),
        if services == 1 { "" } else { "s" },
        args.out.display()
    ));
    Ok(ExitStatus::Ok)
}
