use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = eldercare_loadgen::config::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,eldercare_loadgen=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    match eldercare_loadgen::run(cli).await {
        Ok(eldercare_loadgen::Finished::Provisioned { created, existing }) => {
            eprintln!("provisioned {created} new homes ({existing} were there already)");
            std::process::ExitCode::SUCCESS
        }
        Ok(eldercare_loadgen::Finished::Report(report)) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{}", report.text());
            }
            if report.check.exactly_once() && report.drained {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
