//! The `stripelake` binary: parse, log, run, exit with a code that means something.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = stripelake::cli::Cli::parse();
    stripelake::telemetry::init(cli.global.log_format, cli.global.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(5);
        }
    };
    match runtime.block_on(stripelake::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A key pasted into the wrong flag comes back in the message that names the flag.
            eprintln!(
                "error: {}",
                stripelake::config::redact_secrets(&err.to_string())
            );
            ExitCode::from(err.exit_code())
        }
    }
}
