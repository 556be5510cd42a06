//! The config file: the go-ini parser, key reads (inheritance, interpolation) and the profile
//! resolver, on arbitrary text. Beyond "never panic, never hang", it checks that `list`'s
//! all-profiles start-URL table equals the per-profile walk `clear` and `login` use.
#![no_main]

use std::path::Path;

use aws_vault::config::{BaseValues, ConfigFile, Env};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = ConfigFile::parse(Path::new("fuzz"), &text) else {
        return;
    };
    let profiles = config.profile_names();
    let table = config.sso_start_urls_for(&profiles);
    assert_eq!(table.len(), profiles.len());
    let env = Env::new();
    let base = BaseValues::default();
    for (profile, from_table) in profiles.iter().zip(&table) {
        let walked = config.sso_start_url_for(profile);
        assert_eq!(
            walked.as_deref(),
            from_table.as_deref(),
            "profile {profile:?}"
        );
        let _ = config.resolve(profile, &env, &base);
        let _ = config.own_value(profile, "region");
    }
    for (name, _) in config.sso_sessions() {
        let _ = config.sso_session_value(&name, "sso_region");
    }
});
