//! `aws-vault proxy` (hidden; alias `server`): the privileged 169.254.169.254:80 proxy in front
//! of the EC2 metadata server of `exec --ec2-server` (docs/compatibility.md §1.3, §5.3).
use clap::Args;

use super::{CommandResult, Settings};
use crate::server::proxy;

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// Stop the proxy
    #[arg(long)]
    stop: bool,
}

pub fn run(_settings: &Settings, args: ProxyArgs) -> CommandResult {
    if args.stop {
        // Exit 0 regardless of the result, like the Go tool.
        let answered = proxy::request_stop();
        crate::debug!("proxy /stop answered: {answered}");
        return Ok(0);
    }
    proxy::run()?;
    Ok(0)
}
