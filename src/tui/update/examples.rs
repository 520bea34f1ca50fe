//! The Examples pane's analysis (issue 27): `A` opens the evaluation form for the
//! demonstrations analysis (dataset and `orders=K`, its plan line before it starts); when it is
//! over the pane shows each example's contribution until the examples change.

use crate::core::demos::{Analysis, Report};
use crate::tui::msg::JobForm;
use crate::tui::popups::Setup;
use crate::tui::state::{AppState, Popup};

/// `A` in the Examples pane: the analysis form, unless the template has nothing to analyse.
pub(super) fn open_setup(s: &mut AppState) {
    if let Err(e) = crate::core::demos::check(&s.lab.template()) {
        s.status = e.to_string();
        return;
    }
    let editors = super::session::setup_editors(
        s,
        "orders=8",
        "orders=K: random orders of the examples (0: none); sampled: sample every answer, not score the options",
    );
    s.popup = Some(Popup::Setup(Setup::new(JobForm::Examples, editors)));
}

/// The analysis is over: kept for the Examples pane, its verdicts on the status line.
pub(super) fn analysed(s: &mut AppState, report: Report) {
    let mut said: Vec<String> = Vec::new();
    for a in &report.analyses {
        match a {
            Analysis::LeaveOneOut { contributions } => {
                let helps: Vec<String> = contributions
                    .iter()
                    .filter(|c| c.removal_helps)
                    .map(|c| format!("#{}", c.example + 1))
                    .collect();
                if !helps.is_empty() {
                    said.push(format!("removing {} scored higher", helps.join(", ")));
                }
            }
            Analysis::Labels(l) => said.push(l.verdict.clone()),
            Analysis::Order(o) => {
                if let Some(b) = &o.best {
                    said.push(b.words.clone());
                }
            }
            Analysis::Calibration(c) => said.push(c.words.clone()),
            Analysis::Selection(k) => said.push(k.words.clone()),
        }
    }
    s.status = format!("examples analysed: {}", said.join("; "));
    s.analysis = Some(report);
}
