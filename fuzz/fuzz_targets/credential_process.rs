//! The `credential_process` output reader (the AWS CLI's JSON shape). Never a panic; and an
//! error message never quotes a secret from the output: a `SecretAccessKey` or `SessionToken`
//! of at least eight characters must not appear in the message.
#![no_main]

use aws_vault::creds::credential_process;
use libfuzzer_sys::fuzz_target;

/// The fixed wording of the reader's error messages.
const FIXED: &[&str] = &[
    "invalid JSON format from command",
    "missing the following fields: [AccessKeyId SecretAccessKey]",
    "must be a string",
    "SessionToken",
    "Expiration",
    "unsupported Version",
    "in the output of command",
    "expected a JSON object",
    "not an RFC3339 time",
    "the command must return fresh credentials",
    "unexpected data at line",
];

fuzz_target!(|data: &[u8]| {
    let Err(e) = credential_process::parse("cmd", data) else {
        return;
    };
    let message = format!("{e:#}");
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    for (key, value) in &map {
        if key != "SecretAccessKey" && key != "SessionToken" {
            continue;
        }
        if let serde_json::Value::String(s) = value {
            // A value that is part of the messages' fixed wording (a field name, "invalid JSON
            // format from command") is found in any message; that is not a quote of the output.
            if s.len() >= 8 && !FIXED.iter().any(|f| f.contains(s.as_str())) {
                assert!(
                    !message.contains(s.as_str()),
                    "error quotes the output: {message}"
                );
            }
        }
    }
});
