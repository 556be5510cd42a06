//! The macOS Keychain backend, laid out as the Go tool lays it out so both tools share items:
//!
//! * its own keychain file `<--keychain>.keychain` (default `aws-vault.keychain`, which macOS
//!   resolves to `~/Library/Keychains/aws-vault.keychain-db`), created on the first write with
//!   the system's password prompt; listing or removing on a keychain that does not exist yet
//!   gives an empty list / "not found", and never creates it;
//! * one generic password per item: service `aws-vault`, account = the item's key, label and
//!   description = the item's, value = the raw item data (no JSON wrapper);
//! * long-term credentials (`KeychainNotTrustApplication`) get an access object that trusts no
//!   application, so every read asks the user; sessions and SSO tokens trust the creating
//!   application (the default access). Updating an existing item changes its attributes and
//!   data, never its access list;
//! * `--biometrics`: Touch ID first, then the keychain is unlocked with its passphrase kept in
//!   the login keychain (service `aws-vault`, account `cc.byteness.aws-vault.biometrics`,
//!   label `Passphrase for <keychain>`); when that item is missing the passphrase is asked for,
//!   verified by locking and unlocking, and stored.
//!
//! Everything that is a decision rather than a system call — names, attributes, the access
//! choice, texts — is a pure function here, unit-tested on every platform. The Security and
//! LocalAuthentication calls live in [`macos`], compiled only for macOS.
use super::Item;

/// The keychain service of every aws-vault item.
pub const SERVICE: &str = "aws-vault";
/// The login-keychain account that holds the aws-vault keychain's passphrase for Touch ID.
pub const BIOMETRICS_ACCOUNT: &str = "cc.byteness.aws-vault.biometrics";
/// The service of that item.
pub const BIOMETRICS_SERVICE: &str = "aws-vault";

/// The keychain path the Go tool uses for `--keychain NAME`: a relative name that the system
/// resolves inside `~/Library/Keychains`.
pub fn keychain_path(name: &str) -> String {
    format!("{name}.keychain")
}

/// The label of the login-keychain item holding `path`'s passphrase.
pub fn biometrics_label(path: &str) -> String {
    format!("Passphrase for {path}")
}

/// The reason Touch ID shows.
pub fn touch_id_reason(path: &str) -> String {
    format!("unlock {path}")
}

/// Who may read an item without asking the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The default access object: the application that created the item.
    TrustCreator,
    /// An access object with an empty trusted-application list: every read prompts.
    TrustNone,
}

/// The access an item gets when it is first added. aws-vault configures its keychain to trust
/// itself, except for items that ask not to be trusted (long-term credentials).
pub fn access_for(item: &Item) -> Access {
    if item.keychain_not_trust_application {
        Access::TrustNone
    } else {
        Access::TrustCreator
    }
}

/// The attributes of the generic password that stores `item`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes<'a> {
    pub service: &'a str,
    pub account: &'a str,
    pub label: &'a str,
    pub description: &'a str,
}

pub fn attributes(item: &Item) -> Attributes<'_> {
    Attributes {
        service: SERVICE,
        account: &item.key,
        label: &item.label,
        description: &item.description,
    }
}

/// The item read back from a generic password's account, label, description and data. The
/// two keychain flags are not stored as attributes, so they read back as false (as in Go).
pub fn item_from(account: String, label: String, description: String, data: Vec<u8>) -> Item {
    Item {
        key: account,
        data: zeroize::Zeroizing::new(data),
        label,
        description,
        keychain_not_trust_application: false,
        keychain_not_synchronizable: false,
    }
}

/// The message shown before asking for the keychain passphrase to set up Touch ID.
pub fn biometrics_setup_message(path: &str) -> String {
    format!(
        "To use Touch ID for authentication, the password of {path} needs to be stored in your login keychain.\nYou will be prompted for the password you use to unlock {path}."
    )
}

#[cfg(target_os = "macos")]
pub mod macos;

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, not_trust: bool) -> Item {
        Item {
            key: key.into(),
            data: zeroize::Zeroizing::new(b"{}".to_vec()),
            label: format!("aws-vault ({key})"),
            description: String::new(),
            keychain_not_trust_application: not_trust,
            keychain_not_synchronizable: false,
        }
    }

    #[test]
    fn names_match_the_go_tool() {
        assert_eq!(keychain_path("aws-vault"), "aws-vault.keychain");
        assert_eq!(keychain_path("work"), "work.keychain");
        assert_eq!(
            biometrics_label(&keychain_path("aws-vault")),
            "Passphrase for aws-vault.keychain"
        );
        assert_eq!(
            touch_id_reason("aws-vault.keychain"),
            "unlock aws-vault.keychain"
        );
        assert_eq!(BIOMETRICS_ACCOUNT, "cc.byteness.aws-vault.biometrics");
    }

    #[test]
    fn long_term_keys_trust_no_application() {
        assert_eq!(access_for(&item("prod", true)), Access::TrustNone);
        assert_eq!(
            access_for(&item("sts.GetSessionToken,cHJvZA,,1700000000", false)),
            Access::TrustCreator
        );
    }

    #[test]
    fn attributes_and_back() {
        let it = item("prod", true);
        let a = attributes(&it);
        assert_eq!(
            a,
            Attributes {
                service: "aws-vault",
                account: "prod",
                label: "aws-vault (prod)",
                description: "",
            }
        );
        let back = item_from(
            a.account.into(),
            a.label.into(),
            a.description.into(),
            it.data.to_vec(),
        );
        assert_eq!(back.key, "prod");
        assert_eq!(back.label, "aws-vault (prod)");
        assert_eq!(*back.data, b"{}".to_vec());
        assert!(!back.keychain_not_trust_application);
    }
}
