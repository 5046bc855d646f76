//! Progress bars for transfers on a terminal; silent when stderr is not one.

use std::io::IsTerminal;

use std::fmt;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use lanshare::compression::WireBytes;
use lanshare::units::{format_rate, format_size};

use lanshare::participant::worker::{TransferEvent, TransferHandle, TransferUpdate};

use super::output::printable;

/// Ctrl-C presses, as a channel (the handler is installed once, on first use).
fn interrupts() -> &'static flume::Receiver<()> {
    static INTERRUPTS: once_cell::sync::OnceCell<flume::Receiver<()>> =
        once_cell::sync::OnceCell::new();
    INTERRUPTS.get_or_init(|| {
        let (sender, receiver) = flume::unbounded();
        // Without the handler Ctrl-C still ends the process, only less tidily.
        let _ = ctrlc::set_handler(move || {
            let _ = sender.send(());
        });
        receiver
    })
}

/// Waits for one transfer's events, drawing a bar with speed and ETA; returns its final
/// update. Ctrl-C cancels the transfer (which then removes its partial file), then calls
/// `stop_others` (which must cancel any other transfer running and wait until they have
/// cleaned up too) and ends the process.
pub(super) fn follow(
    label: &str,
    total: u64,
    handle: &TransferHandle,
    events: &flume::Receiver<TransferEvent>,
    stop_others: &dyn Fn(),
) -> TransferUpdate {
    let label = &printable(label);
    let interrupts = interrupts();
    let bar = transfer_bar(total);
    bar.set_message(label.to_owned());
    let mut interrupted = false;
    // Where the last "Resuming…" line said the transfer continues from: the worker reports a
    // resume when the link drops and again when it continues, often at the same byte.
    let mut resumed_from = None;
    loop {
        let next = flume::Selector::new()
            .recv(events, |event| event.map(|e| e.update).map_err(|_| false))
            .recv(interrupts, |_| Err(true))
            .wait();
        match next {
            Ok(TransferUpdate::Progress { done, wire, .. }) => {
                bar.set_message(label.to_owned());
                bar.set_position(done);
                bar.set_prefix(wire_rate(bar.per_sec(), wire));
            }
            Ok(TransferUpdate::Relayed) => bar.suspend(|| {
                eprintln!(
                    "{label}: its sharer cannot be reached from here; relayed through the host"
                );
            }),
            Ok(TransferUpdate::Resuming { done, total }) => {
                bar.set_message(format!("Resuming… {label}"));
                bar.set_position(done);
                // Speed and time left count only what the new connection moves.
                bar.reset_eta();
                if resumed_from != Some(done) {
                    resumed_from = Some(done);
                    bar.suspend(|| {
                        eprintln!(
                            "Resuming… {label} from {} of {}",
                            format_size(done),
                            format_size(total)
                        );
                    });
                }
            }
            Ok(update) => {
                bar.finish_and_clear();
                if interrupted {
                    stop_others();
                    eprintln!("lanshare: interrupted: {label} was not transferred");
                    std::process::exit(130);
                }
                return update;
            }
            // Ctrl-C: cancel, and wait for the transfer to clean up (a second one quits now).
            Err(true) if !interrupted => {
                interrupted = true;
                handle.cancel();
            }
            Err(true) => std::process::exit(130),
            Err(false) => {
                bar.abandon();
                return TransferUpdate::Failed("the transfer thread stopped unexpectedly".into());
            }
        }
    }
}

/// The wire's rate beside the file's (`per_sec`) for a transfer travelling compressed:
/// ` (wire 980 MB/s)`; empty for one that is not.
fn wire_rate(per_sec: f64, wire: Option<WireBytes>) -> String {
    match wire {
        Some(bytes) if bytes.file > 0 => {
            let rate = per_sec * bytes.wire as f64 / bytes.file as f64;
            format!(" (wire {})", format_rate(rate))
        }
        _ => String::new(),
    }
}

/// A bar for a transfer of `total` bytes with speed and time left, drawn on stderr if it is a
/// terminal (hidden otherwise).
fn transfer_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:20!} [{bar:30.cyan/blue}] {done:>9} / {total:9} {rate:>11}{prefix}  ETA {eta}",
    ) {
        // Sizes in lanshare's own units (1024s, labelled MB as in the seed).
        let style = style
            .with_key("done", |state: &ProgressState, out: &mut dyn fmt::Write| {
                let _ = out.write_str(&format_size(state.pos()));
            })
            .with_key(
                "total",
                |state: &ProgressState, out: &mut dyn fmt::Write| {
                    let _ = out.write_str(&format_size(state.len().unwrap_or(0)));
                },
            )
            .with_key("rate", |state: &ProgressState, out: &mut dyn fmt::Write| {
                let _ = out.write_str(&format_rate(state.per_sec()));
            });
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
