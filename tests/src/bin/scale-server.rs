//! `eldercare-server` itself, built inside this crate so the scale tests (tests/tests/scale/) can
//! start it as separate processes through `CARGO_BIN_EXE_scale-server`: cargo builds a package's
//! own binaries before its integration tests, not those of its dependencies.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = eldercare_server::config::Cli::parse();
    eldercare_server::telemetry::init_tracing(cli.log_json);
    match eldercare_server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
