//! `callform emulator`: the four vendor APIs on loopback, with optional faults. It prints
//! its address (stdout) and the Aliyun sandbox account's purchased calling lines (stderr).

use std::time::Duration;

use crate::cli::{EmulatorArgs, Outcome};
use crate::emulator::{self, Config, Credentials, Faults};
use crate::output::Printer;

pub fn run(args: &EmulatorArgs, out: &Printer) -> anyhow::Result<Outcome> {
    for (flag, share) in [
        ("--error-rate", args.error_rate),
        ("--throttle-rate", args.throttle_rate),
        ("--reset-rate", args.reset_rate),
        ("--hang-rate", args.hang_rate),
    ] {
        if !(0.0..=1.0).contains(&share) {
            anyhow::bail!("{flag} is a share of requests: expected a number from 0 to 1");
        }
    }
    let config = Config {
        credentials: Credentials::from_env(),
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            error_5xx_rate: args.error_rate,
            throttle_rate: args.throttle_rate,
            reset_rate: args.reset_rate,
            hang_after_create_rate: args.hang_rate,
            hang: Duration::from_millis(args.hang_ms),
        },
        read_qps: match (args.read_qps_limit, args.enforce_read_qps) {
            (Some(n), _) => emulator::ReadQps::Limit(n),
            (None, true) => emulator::ReadQps::Documented,
            (None, false) => emulator::ReadQps::Off,
        },
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listening = |url: &str| {
        out.data(&format!("callform emulator listening on {url}\n"))?;
        // Status, not data: scripts read the address from the first stdout line.
        out.status(&format!(
            "aliyun sandbox account: purchased calling lines (for `caller`) {}",
            emulator::SANDBOX_ALIYUN_CALLERS.join(", ")
        ));
        Ok(())
    };
    runtime.block_on(emulator::run(&args.listen, config, &listening))?;
    Ok(Outcome::Success)
}
