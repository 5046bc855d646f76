//! The `lanshare` executable: the desktop app when started with no arguments (with the `gui`
//! feature), the headless host and the participant commands otherwise.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
