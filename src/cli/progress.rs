//! Progress bars for transfers on a terminal; silent when stderr is not one.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use lanshare::participant::worker::{TransferEvent, TransferUpdate};

/// Waits for one transfer's events, drawing a bar with speed and ETA; returns its final
/// update.
pub(super) fn follow(
    label: &str,
    total: u64,
    events: &flume::Receiver<TransferEvent>,
) -> TransferUpdate {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:20!} [{bar:30.cyan/blue}] {bytes:>10}/{total_bytes:10} {bytes_per_sec:>11}  ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    loop {
        let Ok(event) = events.recv() else {
            bar.abandon();
            return TransferUpdate::Failed("the transfer thread stopped unexpectedly".into());
        };
        match event.update {
            TransferUpdate::Progress { done, .. } => bar.set_position(done),
            update => {
                bar.finish_and_clear();
                return update;
            }
        }
    }
}
