//! `poolcap history`: the decisions `review` recorded and the changes `apply`
//! and `override` wrote, read back from the history store without SQL. The
//! store must exist: this command only reads, and never makes one.

use crate::cli::{Format, GlobalArgs, HistoryArgs, HistoryKind};
use crate::exit::ExitStatus;
use crate::model::window::Month;
use crate::render::{self, Printer};
use crate::store::history::{HistoryFilter, Store, StoreError};

use super::UsageError;

/// What a missing SQLite store is told.
const MISSING: &str = "there is no history store here; `poolcap ingest metrics FILE…` makes one (and `review`, `apply` and `override` then record into it), or name one with --store";

/// Runs `poolcap history`.
pub fn run(global: &GlobalArgs, args: &HistoryArgs, printer: &mut Printer) -> anyhow::Result<ExitStatus> {
    let month = |flag: &str, text: &Option<String>| -> Result<Option<Month>, UsageError> {
        text.as_deref()
            .map(|t| t.parse::<Month>().map_err(|m| UsageError(format!("{flag}: {m}"))))
            .transpose()
    };
    let since = month("--since", &args.since)?;
    let until = month("--until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(UsageError(format!("--since {s} is after --until {u}: nothing could match")).into());
    }
    let filter = HistoryFilter {
        service: args.service.clone(),
        since: since.map(|m| m.to_string()),
        until: until.map(|m| m.to_string()),
    };
    let location = super::ingest::store_location(global);
    let want_decisions = args.kind != HistoryKind::Changes;
    let want_changes = args.kind != HistoryKind::Decisions;
    let (shown, decisions, changes) = (|| {
        let store = Store::open_existing_or(&location, MISSING)?;
        let decisions = if want_decisions {
            Some(store.decisions(&filter)?)
        } else {
            None
        };
        let changes = if want_changes {
            Some(store.change_entries(&filter)?)
        } else {
            None
        };
        let shown = store.shown().to_string();
        store.close();
        Ok::<_, StoreError>((shown, decisions, changes))
    })()?;
    let unreadable = |e: String| anyhow::anyhow!("store {shown}: {e}");
    let decisions = decisions
        .map(|d| {
            d.iter()
                .map(render::history::decision_row)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(unreadable)?;
    let changes = changes
        .map(|c| c.iter().map(render::history::change_row).collect::<Result<Vec<_>, _>>())
        .transpose()
        .map_err(unreadable)?;
    match global.format {
        Format::Json => {
            let entries: Vec<render::history::HistoryEntry> = decisions
                .into_iter()
                .flatten()
                .map(render::history::HistoryEntry::Decision)
                .chain(changes.into_iter().flatten().map(render::history::HistoryEntry::Change))
                .collect();
            printer.json(&entries)?;
        }
        _ => printer.out(&render::history::table(
            &shown,
            decisions.as_deref(),
            changes.as_deref(),
        ))?,
    }
    Ok(ExitStatus::Ok)
}
