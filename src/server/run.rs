//! `exec --ecs-server` / `--ec2-server`: start the local credential server for one profile, run
//! the child command with the server's address in its environment, and serve credentials for
//! as long as the child runs.
use anyhow::{anyhow, bail};

use crate::creds;
use crate::process::{self, ChildEnv};

/// Which local server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The EC2 metadata emulator behind the 169.254.169.254 proxy.
    Ec2,
    /// The ECS credential endpoint; with `lazy`, no credentials are fetched before the first
    /// request.
    Ecs { lazy: bool },
}

impl Mode {
    /// The flag that chose this mode, for error messages.
    pub fn flag(self) -> &'static str {
        match self {
            Mode::Ec2 => "--ec2-server",
            Mode::Ecs { .. } => "--ecs-server",
        }
    }
}

/// One server run: the credential request it answers from, and how to start it.
pub struct ServerRun<'a> {
    /// The profile's credential request (resolved profile, keyring, MFA source with
    /// `avoid_terminal` set, environment).
    pub request: creds::Request<'a>,
    pub mode: Mode,
    /// `--debug`: passed on to the root proxy.
    pub debug: bool,
}

impl ServerRun<'_> {
    /// Start the server, run `cmd` with `args`, serve until it exits; returns its exit code.
    /// `help` prints (or logs) a user hint; `before_child` runs right before the child starts.
    pub fn run(
        self,
        help: &dyn Fn(&str),
        before_child: &dyn Fn(),
        cmd: String,
        args: Vec<String>,
    ) -> anyhow::Result<i32> {
        let profile = self.request.profile;
        let plan = self
            .request
            .plan()
            .map_err(|e| anyhow!("Error getting temporary credentials: {e}"))?;
        // Unlike the Go tool, a terminal-only prompt is refused only when a prompt is needed.
        let mfa = self.request.mfa;
        if mfa.driver() == "terminal" && super::needs_mfa_prompt(&plan, mfa) {
            bail!(
                "Can't use --prompt=terminal with {}. Specify a different prompt driver",
                self.mode.flag()
            );
        }
        let wait = match self.mode {
            Mode::Ec2 => super::ec2::WAIT,
            Mode::Ecs { .. } => super::ecs::WAIT,
        };
        let (broker, jobs) = super::Broker::new(
            &profile.name,
            crate::config::min_ttl(self.request.env),
            wait,
        );

        let mut env = ChildEnv::from_parent(std::env::vars_os());
        env.set_profile(
            &profile.name,
            profile.region.as_deref(),
            profile.endpoint_url.as_deref(),
        );
        let mut fetcher = super::ProfileFetcher {
            request: self.request,
        };
        // Started in this order so that nothing privileged runs before the unprivileged
        // listener is known to work; stopped in reverse order when they drop.
        let mut proxy = None;
        let running = match self.mode {
            Mode::Ec2 => {
                if super::proxy::is_listening(std::time::Duration::from_millis(10)) {
                    bail!("Another process is already bound to 169.254.169.254:80");
                }
                help("Warning: Starting a local EC2 credential server on 169.254.169.254:80; AWS credentials will be accessible to any process while it is running");
                let listener = super::ec2::bind()?;
                proxy = Some(super::proxy::start(self.debug)?);
                if let Err(e) = broker.prefetch(&mut fetcher, &super::Wanted::Base) {
                    crate::debug!("pre-fetching credentials failed: {e:#}");
                }
                super::ec2::start(listener, broker.clone(), profile.region.clone())?
            }
            Mode::Ecs { lazy } => {
                help("Starting a local ECS credential server; your app's AWS sdk must support AWS_CONTAINER_CREDENTIALS_FULL_URI.");
                if !lazy {
                    broker
                        .prefetch(&mut fetcher, &super::Wanted::Base)
                        .map_err(|e| anyhow!("Retrieving creds: {e:#}"))?;
                }
                let ecs = super::ecs::start(broker.clone())?;
                // Both would win over the FULL_URI/token pair in the SDKs.
                env.remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
                env.remove("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
                env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url());
                env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", ecs.token.as_str());
                ecs.running
            }
        };
        before_child();

        let stop = broker.sender();
        let child = process::spawn_subprocess(cmd, args, env, move || {
            let _ = stop.send(super::Job::Stop);
        });
        super::work(&jobs, &broker, &mut fetcher);
        let result = child
            .join()
            .map_err(|_| anyhow!("the thread running the command panicked"));
        running.stop();
        if let Some(p) = proxy {
            p.stop();
        }
        Ok(result??)
    }
}
