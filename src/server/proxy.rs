//! The privileged proxy on `169.254.169.254:80` (docs/compatibility.md §5.3, `aws-vault proxy`): adds the
//! loopback alias (one address, `/32`), forwards every request to the metadata server on
//! `127.0.0.1:9099` (the original `Host` kept, `X-Forwarded-For` added), answers `/stop` by
//! exiting, and removes the alias on stop, SIGINT and SIGTERM.
//!
//! Another machine on the network can route 169.254.169.254 to this one, and the address is
//! ours while the alias exists. So, unlike the Go tool, the proxy serves only this machine: on
//! Linux the socket is bound to the loopback device (packets that arrive on any other
//! interface find no listener and are refused by the kernel), and on every platform a
//! connection is dropped unless its peer is loopback or the alias itself
//! ([`super::conn::is_local_peer`]). The metadata server also judges the `X-Forwarded-For`
//! this proxy adds, not just the proxy's own loopback address.
//!
//! `exec --ec2-server` starts it with `sudo -b <this executable's real path> proxy`, or directly
//! when aws-vault already runs as root (containers, CI), and stops it when the child exits.
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::Request;

use super::Resp;

/// The address the proxy listens on.
pub const LISTEN: ([u8; 4], u16) = ([169, 254, 169, 254], 80);

fn listen_addr() -> SocketAddr {
    SocketAddr::from(LISTEN)
}

/// The message of docs/compatibility.md §5.3 when the proxy did not come up.
pub const NOT_RUNNING: &str = "The EC2 Instance Metadata endpoint proxy server isn't running. Run `aws-vault proxy` as Administrator or root in the background and then try this command again";

/// Run `program args`, returning `<trimmed output>: <error>` on failure.
fn run_alias_command(program: &str, args: &[&str]) -> anyhow::Result<String> {
    crate::debug!("running {program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{}: {}", text.trim(), out.status);
    }
    Ok(text)
}

/// Add the 169.254.169.254 loopback alias. An alias that already exists (left by a proxy that
/// was killed) counts as success.
pub fn alias_add() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        match run_alias_command(
            "ip",
            &[
                "addr",
                "add",
                "169.254.169.254/32",
                "dev",
                "lo",
                "label",
                "lo:0",
            ],
        ) {
            Err(e) if e.to_string().contains("File exists") => Ok(()),
            other => other.map(drop),
        }
    }
    #[cfg(any(target_os = "macos", target_os = "freebsd", target_os = "openbsd"))]
    {
        run_alias_command(
            "ifconfig",
            &[
                "lo0",
                "alias",
                "169.254.169.254",
                "netmask",
                "255.255.255.255",
            ],
        )
        .map(drop)
    }
    #[cfg(windows)]
    {
        windows_alias("add")
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        windows
    )))]
    {
        bail!("adding the 169.254.169.254 alias is not supported on this platform")
    }
}

/// Remove the alias again.
pub fn alias_remove() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        run_alias_command(
            "ip",
            &[
                "addr",
                "del",
                "169.254.169.254/32",
                "dev",
                "lo",
                "label",
                "lo:0",
            ],
        )
        .map(drop)
    }
    #[cfg(any(target_os = "macos", target_os = "freebsd", target_os = "openbsd"))]
    {
        run_alias_command("ifconfig", &["lo0", "-alias", "169.254.169.254"]).map(drop)
    }
    #[cfg(windows)]
    {
        windows_alias("delete")
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        windows
    )))]
    {
        Ok(())
    }
}

/// The Go tool's `netsh` arguments for adding (`add`) or removing (`delete`) the alias on the
/// loopback interface, mask included.
#[cfg_attr(not(windows), allow(dead_code))]
fn windows_alias_args(verb: &str) -> [&str; 7] {
    [
        "interface",
        "ipv4",
        verb,
        "address",
        "Loopback Pseudo-Interface 1",
        "169.254.169.254",
        "255.255.0.0",
    ]
}

#[cfg(windows)]
fn windows_alias(verb: &str) -> anyhow::Result<()> {
    const EXISTS: &[&str] = &[
        "The object already exists",
        "Das Objekt ist bereits vorhanden",
        "El objeto ya existe",
        "Objektet findes allerede",
    ];
    const ADMIN: &[&str] = &[
        "Run as administrator",
        "Als Administrator ausführen",
        "Ejecutar como administrador",
        "Kør som administrator",
    ];
    let args = windows_alias_args(verb);
    match run_alias_command("netsh", &args) {
        Ok(_) => Ok(()),
        Err(e) if EXISTS.iter().any(|m| e.to_string().contains(m)) => Ok(()),
        Err(e) if ADMIN.iter().any(|m| e.to_string().contains(m)) => bail!(
            "Creation of network alias for server mode requires elevated permissions, run as administrator"
        ),
        Err(e) => Err(e),
    }
}

/// `aws-vault proxy`: add the alias, serve until `/stop`, SIGINT or SIGTERM, remove the alias.
pub fn run() -> anyhow::Result<()> {
    alias_add()?;
    let result = serve_until_stopped(listen_addr(), SocketAddr::from(super::ec2::ADDR));
    if let Err(e) = alias_remove() {
        crate::debug!("removing the 169.254.169.254 alias failed: {e}");
    }
    result
}

/// Serve the proxy on `listen`, forwarding to `upstream`, until stopped.
pub fn serve_until_stopped(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
        let stop = Arc::new(tokio::sync::Notify::new());
        let s = stop.clone();
        let handler = move |req: Request<Incoming>, peer: SocketAddr| {
            let stop = s.clone();
            async move {
                if req.uri().path() == "/stop" {
                    // Connections from other machines are refused already; this is the last word.
                    if !super::conn::is_local_peer(peer.ip(), listen.ip()) {
                        return super::text_error(403, "Access denied from non-local address");
                    }
                    stop.notify_one();
                    return super::respond(200, "text/plain; charset=utf-8", "");
                }
                forward(req, peer, upstream).await
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(super::conn::serve(
            listener,
            Arc::new(handler),
            rx,
            super::conn::Peers::Local,
        ));
        wait_for_stop(&stop).await;
        // Let the `/stop` answer go out before the runtime is dropped.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tx.send(());
        let _ = server.await;
        Ok(())
    })
}

/// Listen on `addr`; on Linux only for connections that arrive on the loopback device, so other
/// machines routing 169.254.169.254 here get "connection refused" from the kernel.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    // Root (the proxy's usual case) may always do this; the peer check in `conn` still guards
    // a proxy that may not.
    #[cfg(target_os = "linux")]
    if let Err(e) = socket.bind_device(Some(b"lo")) {
        crate::debug!("proxy: cannot bind to the loopback device ({e}); relying on the peer check");
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(unix)]
async fn wait_for_stop(stop: &tokio::sync::Notify) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        stop.notified().await;
        return;
    };
    tokio::select! {
        _ = stop.notified() => crate::debug!("proxy: stop requested"),
        _ = term.recv() => crate::debug!("proxy: SIGTERM"),
        _ = int.recv() => crate::debug!("proxy: SIGINT"),
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(stop: &tokio::sync::Notify) {
    tokio::select! {
        _ = stop.notified() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// How long forwarding one request may take: reading its (small) body, and the metadata
/// server's answer, which comes within `ec2::WAIT` plus a little.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer taken from the metadata server (its bodies are a few hundred bytes).
const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// Forward one request unchanged (Host kept, `X-Forwarded-For` appended) to `upstream`. Nothing
/// is buffered beyond [`super::conn::MAX_REQUEST_BODY`] / [`MAX_RESPONSE_BODY`].
async fn forward(req: Request<Incoming>, peer: SocketAddr, upstream: SocketAddr) -> Resp {
    match tokio::time::timeout(FORWARD_TIMEOUT, try_forward(req, peer, upstream)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is::<TooLarge>() => super::conn::too_large(),
        Ok(Err(e)) => {
            crate::debug!("proxy: forwarding to {upstream} failed: {e:#}");
            super::respond(502, "text/plain; charset=utf-8", "")
        }
        Err(_) => {
            crate::debug!("proxy: forwarding to {upstream} timed out");
            super::respond(504, "text/plain; charset=utf-8", "")
        }
    }
}

/// The request body was over the limit (answered 413, not 502).
#[derive(Debug, thiserror::Error)]
#[error("request body too large")]
struct TooLarge;

async fn try_forward(
    req: Request<Incoming>,
    peer: SocketAddr,
    upstream: SocketAddr,
) -> anyhow::Result<Resp> {
    let (mut parts, body) = req.into_parts();
    let body = match super::conn::read_body(body).await {
        Ok(b) => b,
        Err(super::conn::BodyError::TooLarge) => return Err(TooLarge.into()),
        Err(super::conn::BodyError::Failed(e)) => bail!("reading the request body: {e}"),
    };
    let client = peer.ip().to_string();
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) => format!("{prior}, {client}"),
        None => client,
    };
    parts.headers.insert("x-forwarded-for", xff.parse()?);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = path.parse()?;
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = resp.into_parts();
    let body = http_body_util::Limited::new(body, MAX_RESPONSE_BODY)
        .collect()
        .await
        .map_err(|e| anyhow!("reading the answer: {e}"))?
        .to_bytes();
    Ok(hyper::Response::from_parts(parts, Full::new(body)))
}

/// Whether something accepts TCP on 169.254.169.254:80 within `timeout`.
pub fn is_listening(timeout: Duration) -> bool {
    TcpStream::connect_timeout(&listen_addr(), timeout).is_ok()
}

/// `GET http://169.254.169.254:80/stop`; true when it was answered.
pub fn request_stop() -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(&listen_addr(), Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /stop HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.1 200")
}

/// A proxy started by `exec --ec2-server`.
pub struct ProxyHandle {
    /// Our own child when started directly (as root); `None` after `sudo -b`.
    child: Option<Child>,
}

impl ProxyHandle {
    /// Ask the proxy to stop; a direct child that does not exit within 3 s is killed.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        let answered = request_stop();
        crate::debug!("proxy /stop answered: {answered}");
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SIGTERM first: the proxy removes the alias on SIGTERM.
        #[cfg(unix)]
        unsafe {
            // SAFETY: kill(2) on our own child's pid.
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(500));
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop_inner();
        }
    }
}

fn is_root() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Start the proxy (`sudo -b <exe> proxy`, or directly when root or on Windows) and wait until
/// it answers on 169.254.169.254:80.
pub fn start(debug: bool) -> anyhow::Result<ProxyHandle> {
    // The real path of this executable, never argv[0] resolved through sudo's PATH (§7.17).
    let exe = std::env::current_exe()
        .context("cannot find the path of the aws-vault executable to start the proxy")?;
    let mut args: Vec<&str> = vec!["proxy"];
    if debug {
        args.push("--debug");
    }
    let mut handle = ProxyHandle { child: None };
    if is_root() || cfg!(windows) {
        let mut cmd = Command::new(&exe);
        cmd.args(&args).stdin(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: a Ctrl-C meant for the child must not take the alias away
            // under it; aws-vault stops the proxy itself when the child exits.
            cmd.process_group(0);
            #[cfg(target_os = "linux")]
            // SAFETY: prctl is async-signal-safe. If aws-vault dies (even SIGKILL), the proxy
            // gets SIGTERM and removes the alias, so no root process lingers.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
        }
        #[cfg(windows)]
        {
            use std::os::windows::process::CommandExt;
            // CREATE_NEW_PROCESS_GROUP: the console's Ctrl-C, meant for the child of `exec`,
            // must not stop the proxy (and remove the alias) under it.
            cmd.creation_flags(0x0000_0200);
        }
        crate::debug!("starting {} proxy", exe.display());
        handle.child = Some(
            cmd.spawn()
                .with_context(|| format!("cannot start {} proxy", exe.display()))?,
        );
    } else {
        crate::debug!("starting sudo -b {} proxy", exe.display());
        let status = Command::new("sudo")
            .arg("-b")
            .arg(&exe)
            .args(&args)
            .status()
            .map_err(|e| anyhow!("cannot run sudo ({e}). {NOT_RUNNING}"))?;
        if !status.success() {
            bail!(
                "sudo -b {} proxy failed ({status}). {NOT_RUNNING}",
                exe.display()
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if is_listening(Duration::from_millis(50)) {
            return Ok(handle);
        }
        if let Some(child) = handle.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                handle.child = None;
                bail!("the proxy exited ({status}). {NOT_RUNNING}");
            }
        }
        if Instant::now() > deadline {
            bail!("{NOT_RUNNING}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_alias_is_the_go_tools_netsh_command() {
        assert_eq!(
            windows_alias_args("add").join(" "),
            "interface ipv4 add address Loopback Pseudo-Interface 1 169.254.169.254 255.255.0.0"
        );
        assert_eq!(windows_alias_args("delete")[2], "delete");
    }
}
