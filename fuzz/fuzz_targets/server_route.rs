//! The routing of the local credential servers, without sockets: the EC2 metadata emulator
//! (`ec2::route` with the client judged by `ec2::judged_client`) and the ECS endpoint
//! (`ecs::route`). Input: NUL-separated method, path, Host, X-Forwarded-For, Authorization, and
//! one byte choosing the peer. The invariants are the security rules: credentials only for a
//! loopback client naming 169.254.169.254, and only with the exact token.
#![no_main]

use std::net::IpAddr;

use aws_vault::server::{ec2, ecs};
use libfuzzer_sys::fuzz_target;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let host = parts.next().unwrap_or("");
    let forwarded = parts.next().unwrap_or("");
    let auth = parts.next();
    let peer_choice = parts.next().and_then(|p| p.bytes().next()).unwrap_or(0);
    let peer: IpAddr = match peer_choice % 4 {
        0 => "127.0.0.1".parse().unwrap(),
        1 => "::1".parse().unwrap(),
        2 => "169.254.169.254".parse().unwrap(),
        _ => "192.0.2.7".parse().unwrap(),
    };

    let forwarded_for: Vec<&str> = forwarded.split('\n').collect();
    let client = ec2::judged_client(peer, forwarded_for.iter().copied());
    let alias = IpAddr::from([169, 254, 169, 254]);
    if !peer.is_loopback() && peer != alias {
        assert!(
            !client.is_loopback() && client != alias,
            "a foreign peer {peer} was judged local ({client})"
        );
    }
    match ec2::route(method, path, host, client) {
        ec2::Route::Denied(_) => {}
        other => {
            assert!(client.is_loopback(), "{other:?} for {client}");
            assert!(host == "169.254.169.254" || host == "169.254.169.254:80");
        }
    }

    match ecs::route(path, auth.map(str::as_bytes), TOKEN) {
        ecs::Route::Forbidden => assert_ne!(auth, Some(TOKEN)),
        _ => assert_eq!(auth, Some(TOKEN)),
    }
    let _ = aws_vault::server::percent_decode(path);
});
