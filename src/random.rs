//! Random tokens from the operating system's generator: the ECS server's authorization token,
//! EC2 IMDSv2 session tokens, and the SSO login's PKCE verifier and `state`.

use base64::Engine;
use zeroize::Zeroizing;

/// `n` cryptographically random bytes as base64url without padding (`ceil(4n/3)` characters,
/// safe in URLs, headers and environment variables). The raw bytes are wiped after encoding.
pub fn token(n: usize) -> anyhow::Result<String> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_base64url_of_the_asked_length() {
        for (n, len) in [(16, 22), (30, 40), (32, 43)] {
            let t = token(n).unwrap();
            assert_eq!(t.len(), len);
            assert!(t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_ne!(t, token(n).unwrap());
        }
    }
}
