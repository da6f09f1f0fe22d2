//! Tests of the keys file and the proof checks: parsing, the private atomic write, refusal of
//! an exposed file, names, and that no key is ever printed.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use ftp_proto::SharedKey;
use proptest::prelude::*;

use super::ring::{check, still_valid};
use super::*;
use crate::config::{DEFAULT_KEYS_FILE, keys_beside};

fn entry(byte: u8, users: &[&str]) -> KeyEntry {
    KeyEntry {
        key: StoredKey(SharedKey::from_bytes([byte; 32])),
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        created: whole_seconds(SystemTime::now()),
        previous: None,
    }
}

fn keys_with(name: &str, entry: KeyEntry) -> Keys {
    let mut keys = Keys::default();
    keys.keys.insert(name.to_owned(), entry);
    keys
}

#[test]
fn keys_file_round_trips_with_mode_0600_and_no_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DEFAULT_KEYS_FILE);
    assert!(Keys::load(&path).unwrap().is_none());
    let mut keys = keys_with("laptop", entry(1, &["alice"]));
    keys.keys.get_mut("laptop").unwrap().previous = Some(PreviousKey {
        key: StoredKey(SharedKey::from_bytes([2; 32])),
        valid_until: whole_millis(SystemTime::now()),
    });
    keys.store(&path).unwrap();
    keys.store(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(Keys::load(&path).unwrap(), Some(keys));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_exposed_keys_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DEFAULT_KEYS_FILE);
    keys_with("laptop", entry(1, &[])).store(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(matches!(
        Keys::load(&path),
        Err(KeysError::Exposed { mode: 0o640, .. })
    ));
    assert!(super::check(&path).is_err());
}

#[test]
fn bad_files_are_refused_without_quoting_a_key() {
    let secret = "cd".repeat(32);
    for text in [
        format!("[keys.laptop]\nkey = \"{secret}\"\n"),
        format!("[keys.default]\nkey = \"{secret}\"\ncreated = \"2026-01-01T00:00:00Z\"\n"),
        format!("[keys.\"a b\"]\nkey = \"{secret}\"\ncreated = \"2026-01-01T00:00:00Z\"\n"),
        format!("[keys.x]\nkey = \"{secret}00\"\ncreated = \"2026-01-01T00:00:00Z\"\n"),
        format!(
            "[keys.x]\nkey = \"{secret}\"\ncreated = \"2026-01-01T00:00:00Z\"\nusers = [\"a/b\"]\n"
        ),
        format!("[keys.x]\nkey = \"{secret}\"\ncreated = \"2026-01-01T00:00:00Z\"\nextra = 1\n"),
    ] {
        let error = Keys::parse(&text).unwrap_err();
        assert!(!error.contains(&secret), "{error}");
    }
    let good = format!("[keys.x]\nkey = \"{secret}\"\ncreated = \"2026-01-01T00:00:00Z\"\n");
    assert!(Keys::parse(&good).is_ok());
}

#[test]
fn keys_never_print() {
    let keys = keys_with("laptop", entry(0xab, &[]));
    let shown = format!("{keys:?}");
    assert!(!shown.contains("abab") && !shown.contains("171"), "{shown}");
    assert!(shown.contains("***"));
}

#[test]
fn a_proof_holds_with_its_key_and_a_rotated_one_only_in_its_grace() {
    let now = SystemTime::now();
    let mut laptop = entry(1, &["alice"]);
    laptop.previous = Some(PreviousKey {
        key: StoredKey(SharedKey::from_bytes([2; 32])),
        valid_until: now + Duration::from_secs(10),
    });
    let keys = keys_with("laptop", laptop);
    let holds = |byte: u8| move |key: &SharedKey| key.expose() == &[byte; 32];
    let (key, session) = check(&keys, "laptop", now, holds(1)).unwrap();
    assert_eq!((key.name(), key.expose()), ("laptop", &[1; 32]));
    assert!(session.allows("alice") && !session.allows("bob"));
    assert!(check(&keys, "laptop", now, holds(2)).is_some());
    let later = now + Duration::from_secs(11);
    assert!(check(&keys, "laptop", later, holds(2)).is_none());
    assert!(check(&keys, "laptop", later, holds(1)).is_some());
    assert!(check(&keys, "laptop", now, holds(3)).is_none());
    assert!(check(&keys, "other", now, holds(1)).is_none());
}

#[test]
fn an_unknown_name_costs_two_checks_like_a_known_one() {
    let keys = keys_with("laptop", entry(1, &[]));
    for name in ["laptop", "nobody"] {
        let calls = std::cell::Cell::new(0);
        let _ = check(&keys, name, SystemTime::now(), |_| {
            calls.set(calls.get() + 1);
            false
        });
        assert_eq!(calls.get(), 2, "{name}");
    }
    // The dummy key itself proves nothing for an unknown name.
    assert!(check(&keys, "nobody", SystemTime::now(), |_| true).is_none());
}

#[test]
fn a_session_key_stays_valid_until_revoked_or_its_grace_ends() {
    let now = SystemTime::now();
    let keys = keys_with("laptop", entry(1, &[]));
    let (_, _session) = check(&keys, "laptop", now, |k| k.expose() == &[1; 32]).unwrap();
    let print = |byte: u8| -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest([byte; 32]).into()
    };
    assert!(still_valid(&keys, "laptop", &print(1), now));
    assert!(!still_valid(&Keys::default(), "laptop", &print(1), now));
    let mut rotated = entry(3, &[]);
    rotated.previous = Some(PreviousKey {
        key: StoredKey(SharedKey::from_bytes([1; 32])),
        valid_until: now + Duration::from_secs(5),
    });
    let rotated = keys_with("laptop", rotated);
    assert!(still_valid(&rotated, "laptop", &print(1), now));
    assert!(!still_valid(
        &rotated,
        "laptop",
        &print(1),
        now + Duration::from_secs(6)
    ));
}

#[test]
fn the_keys_file_is_beside_the_users_file() {
    assert_eq!(
        keys_beside(std::path::Path::new("/etc/ftpd/users.toml")),
        std::path::Path::new("/etc/ftpd/ftpd-keys.toml")
    );
    assert_eq!(
        last_used_path(std::path::Path::new("/etc/ftpd/ftpd-keys.toml")),
        std::path::Path::new("/etc/ftpd/ftpd-keys.used.toml")
    );
}

proptest! {
    #[test]
    fn any_keys_file_round_trips(
        entries in proptest::collection::btree_map(
            "[a-z][a-z0-9_-]{0,10}",
            (any::<[u8; 32]>(), proptest::collection::vec("[a-z][a-z0-9]{0,6}", 0..3), 0u64..4_000_000_000),
            0..5,
        )
    ) {
        let mut keys = Keys::default();
        for (name, (bytes, users, secs)) in entries {
            if name == "default" {
                continue;
            }
            keys.keys.insert(name, KeyEntry {
                key: StoredKey(SharedKey::from_bytes(bytes)),
                users,
                created: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
                previous: None,
            });
        }
        let text = toml::to_string(&keys).unwrap();
        prop_assert_eq!(Keys::parse(&text).unwrap(), keys);
    }

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,200}") {
        let _ = Keys::parse(&text);
    }
}
