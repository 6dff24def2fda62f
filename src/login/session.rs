//! The encrypted session store of current CLIs (`docs/session.md`).
//!
//! `auth/session.json` is `{"version": 2, "nonce": hex, "ciphertext": hex}`:
//! AES-256-GCM without associated data, the 16-byte tag at the end of the
//! ciphertext, under the key scrypt(`"<hostname>:<uid>"`, salt =
//! `auth/session.salt` (16 bytes), N = 2^14, r = 8, p = 1, 32 bytes).
//!
//! Only `email` and `teams` are taken from the plaintext; everything else in
//! it (tokens) is skipped by the parser, never kept. The key, the password it
//! is derived from and the plaintext buffer are zeroised when dropped.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, SessionError};
use crate::home::Home;

/// The only session format version this reader understands.
pub const SESSION_VERSION: u64 = 2;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;

/// The parts of a decrypted session that name a scope. Nothing else is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    pub email: String,
    pub teams: Vec<Team>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub is_private_teamspace: bool,
}

impl SessionIdentity {
    /// The id of the first team marked as the private teamspace.
    pub fn private_team_id(&self) -> Option<String> {
        self.teams
            .iter()
            .find(|t| t.is_private_teamspace)
            .map(|t| t.id.clone())
    }
}

/// The host name and uid the session key is derived from, as the CLI takes
/// them (`socket.gethostname()`, `os.getuid()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub hostname: String,
    pub uid: u32,
}

impl HostUser {
    /// This process's host name and real uid.
    pub fn current() -> HostUser {
        HostUser {
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            uid: rustix::process::getuid().as_raw(),
        }
    }

    /// `"<hostname>:<uid>"`, the scrypt password.
    fn password(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(format!("{}:{}", self.hostname, self.uid).into_bytes())
    }
}

/// Read the session's identity; `Ok(None)` when there is no session file.
pub fn read_identity(home: &Home) -> Result<Option<SessionIdentity>, Error> {
    read_identity_as(home, &HostUser::current())
}

/// [`read_identity`] with the key derived for `host` instead of this process.
///
/// Errors are typed ([`SessionError`] inside [`Error::Session`], or
/// [`Error::Io`]) and never carry secret material.
pub fn read_identity_as(home: &Home, host: &HostUser) -> Result<Option<SessionIdentity>, Error> {
    let session_path = home.session_json();
    let Some((raw, meta)) = crate::fsutil::read_regular(&session_path, crate::fsutil::READ_CAP)?
    else {
        return no_session_file(home);
    };
    check_private(&session_path, &meta)?;
    let envelope = parse_envelope(&session_path, &raw)?;

    let salt_path = home.session_salt();
    let Some((salt, salt_meta)) = crate::fsutil::read_regular(&salt_path, crate::fsutil::READ_CAP)?
    else {
        return Err(SessionError::SaltMissing {
            salt: salt_path,
            session: session_path,
        }
        .into());
    };
    check_private(&salt_path, &salt_meta)?;
    if salt.len() != SALT_LEN {
        // Changed between stat and read.
        return Err(SessionError::SaltLength {
            path: salt_path,
            len: salt.len() as u64,
        }
        .into());
    }

    let key = derive_key(&session_path, host, &salt)?;
    let plaintext = decrypt(&key, &envelope.nonce, &envelope.ciphertext).ok_or_else(|| {
        SessionError::Decryption {
            path: session_path.clone(),
        }
    })?;
    drop(key);
    parse_plaintext(&session_path, &plaintext).map(Some)
}

/// No `session.json`: nothing to read, unless `auth/` still holds something,
/// which is how a session kept in the OS keyring (or a logout that left the
/// salt behind) looks from here. That is worth a diagnostic naming `--scope`.
fn no_session_file(home: &Home) -> Result<Option<SessionIdentity>, Error> {
    let dir = home.auth_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    names.sort();
    let shown = names.len().min(5);
    let mut list = names[..shown].join(", ");
    if names.len() > shown {
        list.push_str(&format!(" and {} more", names.len() - shown));
    }
    Err(SessionError::NotInFile { dir, entries: list }.into())
}

/// Refuse a file with any group/other permission bit, as the CLI does.
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SessionError::Permissions {
            path: path.to_path_buf(),
            mode,
        }
        .into());
    }
    Ok(())
}

struct Envelope {
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

fn malformed(path: &Path, detail: impl Into<String>) -> Error {
    SessionError::Malformed {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
    .into()
}

/// Parse `{"version", "nonce", "ciphertext"}`. The version is checked first,
/// so a newer format is reported as such rather than as malformed.
fn parse_envelope(path: &Path, raw: &[u8]) -> Result<Envelope, Error> {
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| malformed(path, format!("not JSON: {}", json_error_summary(&e))))?;
    let obj = value
        .as_object()
        .ok_or_else(|| malformed(path, "not a JSON object"))?;
    match obj.get("version") {
        None => return Err(malformed(path, "no \"version\" field")),
        Some(v) if v.as_u64() == Some(SESSION_VERSION) => {}
        Some(v) => {
            let mut shown = v.to_string();
            if shown.len() > 40 {
                shown = format!("{}…", shown.chars().take(40).collect::<String>());
            }
            return Err(SessionError::UnsupportedVersion {
                path: path.to_path_buf(),
                version: shown,
            }
            .into());
        }
    }
    let hex_field = |name: &str| -> Result<Vec<u8>, Error> {
        let s = obj
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| malformed(path, format!("no \"{name}\" hex string")))?;
        hex::decode(s.trim()).map_err(|e| malformed(path, format!("\"{name}\" is not hex: {e}")))
    };
    let nonce = hex_field("nonce")?;
    let nonce: [u8; NONCE_LEN] = nonce.as_slice().try_into().map_err(|_| {
        malformed(
            path,
            format!("nonce is {} bytes, expected {NONCE_LEN}", nonce.len()),
        )
    })?;
    let ciphertext = hex_field("ciphertext")?;
    if ciphertext.len() < TAG_LEN {
        return Err(malformed(
            path,
            format!(
                "ciphertext is {} bytes, shorter than the {TAG_LEN}-byte tag",
                ciphertext.len()
            ),
        ));
    }
    Ok(Envelope { nonce, ciphertext })
}

/// scrypt(`"<hostname>:<uid>"`, salt, N = 2^14, r = 8, p = 1) → 32 bytes.
/// `path` only names the file in an error, which constant parameters and a
/// 32-byte output make unreachable; still an error, not a panic.
fn derive_key(
    path: &Path,
    host: &HostUser,
    salt: &[u8],
) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let kdf_error = |e: &dyn std::fmt::Display| malformed(path, format!("key derivation: {e}"));
    let params =
        scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P).map_err(|e| kdf_error(&e))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(&host.password(), salt, &params, key.as_mut_slice())
        .map_err(|e| kdf_error(&e))?;
    Ok(key)
}

/// AES-256-GCM open, in place in a zeroising buffer; `None` when the tag does
/// not verify (wrong key or tampered file).
fn decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_in_place(&Nonce::from(*nonce), b"", &mut *buf)
        .ok()?;
    Some(buf)
}

/// Only these fields of the plaintext are ever deserialised; serde skips the
/// rest (tokens) without keeping them.
#[derive(Deserialize)]
struct PlainSession {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    teams: Option<Vec<PlainTeam>>,
}

#[derive(Deserialize)]
struct PlainTeam {
    id: TeamId,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_private_teamspace: Option<bool>,
}

/// Team ids are strings; accept a JSON number too rather than fail.
#[derive(Deserialize)]
#[serde(untagged)]
enum TeamId {
    Text(String),
    Int(i64),
    Uint(u64),
}

impl TeamId {
    fn into_string(self) -> String {
        match self {
            TeamId::Text(s) => s,
            TeamId::Int(n) => n.to_string(),
            TeamId::Uint(n) => n.to_string(),
        }
    }
}

fn parse_plaintext(path: &Path, plaintext: &[u8]) -> Result<SessionIdentity, Error> {
    // The parser's own message may quote plaintext; only its category and
    // position are reported.
    let plain: PlainSession = serde_json::from_slice(plaintext).map_err(|e| {
        malformed(
            path,
            format!("decrypted content: {}", json_error_summary(&e)),
        )
    })?;
    // Kept as written: the scope normalises it, and 3.2.4+'s gate compares
    // it raw (fixtures/releases, `preflight_view`).
    let email = plain
        .email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| SessionError::NoEmail {
            path: path.to_path_buf(),
        })?;
    let teams = plain
        .teams
        .unwrap_or_default()
        .into_iter()
        .map(|t| Team {
            id: t.id.into_string(),
            name: t.name.unwrap_or_default(),
            is_private_teamspace: t.is_private_teamspace.unwrap_or(false),
        })
        .collect();
    Ok(SessionIdentity { email, teams })
}

/// A serde_json error without the input it quotes: category and position.
fn json_error_summary(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Data => "unexpected value",
        Category::Eof => "truncated",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Support for tests and tools: write a session exactly as the spec-kitty
/// CLI does, so readers can be exercised without a real login. Not used by
/// the shipped commands.
#[cfg(feature = "test-support")]
pub mod test_support {
    use std::fs;
    use std::io::Write;
    use std::path::Path;

    use aes_gcm::aead::AeadInOut;
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
    use zeroize::Zeroizing;

    use super::{HostUser, NONCE_LEN, SALT_LEN, SESSION_VERSION, derive_key};
    use crate::error::{Error, SessionError};
    use crate::home::Home;

    /// Encrypt `plaintext_json` for `host` and write `auth/session.salt`
    /// (16 random bytes) and `auth/session.json` (version 2, random nonce),
    /// both mode 0600, in `auth/` (created mode 0700). Overwrites both.
    pub fn write_session(home: &Home, host: &HostUser, plaintext_json: &[u8]) -> Result<(), Error> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        let auth = home.auth_dir();
        getrandom::fill(&mut salt)
            .and_then(|()| getrandom::fill(&mut nonce))
            .map_err(|e| Error::io(&auth, std::io::Error::other(e.to_string())))?;

        let key = derive_key(&auth, host, &salt)?;
        let cipher = Aes256Gcm::new_from_slice(key.as_slice()).map_err(|e| {
            Error::Session(SessionError::Malformed {
                path: auth.clone(),
                detail: e.to_string(),
            })
        })?;
        let mut buf = Zeroizing::new(plaintext_json.to_vec());
        cipher
            .encrypt_in_place(&Nonce::from(nonce), b"", &mut *buf)
            .map_err(|_| {
                Error::Session(SessionError::Malformed {
                    path: auth.clone(),
                    detail: "encryption failed".into(),
                })
            })?;
        let envelope = serde_json::json!({
            "version": SESSION_VERSION,
            "nonce": hex::encode(nonce),
            "ciphertext": hex::encode(&*buf),
        });

        crate::fsutil::create_private_dir_all(&auth)?;
        write_private(&home.session_salt(), &salt)?;
        write_private(&home.session_json(), envelope.to_string().as_bytes())
    }

    /// Write `bytes` to `path` with mode 0600 (also when it existed).
    pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(path, e))?;
        f.write_all(bytes).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::test_support::{write_private, write_session};
    use super::*;

    const TOKEN: &str = "SECRET-TOKEN-123";

    fn host() -> HostUser {
        HostUser {
            hostname: "build-host.example".into(),
            uid: 1000,
        }
    }

    fn plaintext(teams: &str) -> String {
        format!(
            r#"{{"email": "Robert@Example.com", "access_token": "{TOKEN}",
                "refresh_token": "{TOKEN}-refresh", "user_id": 7,
                "teams": {teams}, "expires_at": "2026-05-01T00:00:00Z"}}"#
        )
    }

    const TEAMS: &str = r#"[
        {"id": "team-shared", "name": "Shared", "role": "member", "is_private_teamspace": false},
        {"id": "Priv-42", "name": "Robert", "role": "owner", "is_private_teamspace": true},
        {"id": "priv-later", "name": "Other", "role": "owner", "is_private_teamspace": true}
    ]"#;

    fn home_with_session(teams: &str) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        write_session(&home, &host(), plaintext(teams).as_bytes()).unwrap();
        (dir, home)
    }

    fn session_err(r: Result<Option<SessionIdentity>, Error>) -> SessionError {
        match r {
            Err(Error::Session(e)) => e,
            other => panic!("expected a session error, got {other:?}"),
        }
    }

    fn assert_no_secret(text: &str) {
        assert!(!text.contains(TOKEN), "secret leaked: {text}");
    }

    #[test]
    fn round_trip_gives_email_teams_and_private_team() {
        let (_d, home) = home_with_session(TEAMS);
        let id = read_identity_as(&home, &host()).unwrap().unwrap();
        assert_eq!(id.email, "Robert@Example.com");
        assert_eq!(id.teams.len(), 3);
        assert_eq!(id.teams[0].name, "Shared");
        assert_eq!(id.private_team_id().as_deref(), Some("Priv-42"));
        assert_no_secret(&format!("{id:?}"));
        assert_no_secret(&format!("{id:#?}"));
    }

    #[test]
    fn files_are_written_like_the_cli() {
        let (_d, home) = home_with_session(TEAMS);
        for p in [home.session_json(), home.session_salt()] {
            let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        assert_eq!(fs::read(home.session_salt()).unwrap().len(), 16);
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(home.session_json()).unwrap()).unwrap();
        assert_eq!(v["version"], 2);
        assert_eq!(v["nonce"].as_str().unwrap().len(), 24);
        let ct = hex::decode(v["ciphertext"].as_str().unwrap()).unwrap();
        assert_eq!(ct.len(), plaintext(TEAMS).len() + 16);
        assert_no_secret(&fs::read_to_string(home.session_json()).unwrap());
    }

    /// A session built independently of `write_session`: key from the
    /// published scrypt parameters, AES-GCM with the tag appended, and the
    /// reader must open it. Guards against both sides sharing one mistake.
    #[test]
    fn reads_an_independently_built_session() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        fs::create_dir_all(dir.path().join("auth")).unwrap();
        let salt = [7u8; 16];
        let nonce = [9u8; 12];
        let mut key = [0u8; 32];
        scrypt::scrypt(
            b"build-host.example:1000",
            &salt,
            &scrypt::Params::new(14, 8, 1).unwrap(),
            &mut key,
        )
        .unwrap();
        let cipher = Aes256Gcm::new_from_slice(&key).unwrap();
        let mut buf =
            br#"{"email":"a@b.c","teams":[{"id":"p","name":"n","is_private_teamspace":true}]}"#
                .to_vec();
        cipher
            .encrypt_in_place(&Nonce::from(nonce), b"", &mut buf)
            .unwrap();
        write_private(&home.session_salt(), &salt).unwrap();
        let json = format!(
            r#"{{"version": 2, "nonce": "{}", "ciphertext": "{}"}}"#,
            hex::encode(nonce),
            hex::encode(&buf)
        );
        write_private(&home.session_json(), json.as_bytes()).unwrap();
        let id = read_identity_as(&home, &host()).unwrap().unwrap();
        assert_eq!(id.email, "a@b.c");
        assert_eq!(id.private_team_id().as_deref(), Some("p"));
    }

    /// Made once with Python, as the CLI does it: `hashlib.scrypt(b"fixture-host:501",
    /// salt=bytes(range(16)), n=2**14, r=8, p=1, dklen=32)`, then
    /// `cryptography`'s `AESGCM(key).encrypt(bytes(range(100, 112)), plaintext, None)`.
    const PY_SALT: &str = "000102030405060708090a0b0c0d0e0f";
    const PY_SESSION: &str = r#"{"version": 2, "nonce": "6465666768696a6b6c6d6e6f", "ciphertext": "19c060085d7a5f2aa5910c83c6ef3dd44adb7e263403189de9f383f966319cb62090641925a6775130a6058cb93b8f03da8ac26ea70920ad5f99a2e127c3904de577d4a1e1c634d838ea60bad99eb26e7ce146399284b3a04621d09e49065f3dfa36981de8ca0635b28210d21b183a778b5f6afa420d83f73027e1be3ea5d012e7fe912b134d0c569cce2ddeb5a5ea12424a5802fa02b5ae6b8b4f3c6dd6a77acb091375e7fb471c69482dbd281c362691d9fd0f2e58ae99794cfa339fe36f0acb0747965e887b193d2fd2255d41deb2b51c89ecf39916cfc0a3760cd84be52545410c84d29981c7cb8bdba82ca06ab8e83de8194182b694b76cd3451353e4e1ebd3a6"}"#;

    #[test]
    fn reads_a_session_written_by_python() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        fs::create_dir_all(dir.path().join("auth")).unwrap();
        write_private(&home.session_salt(), &hex::decode(PY_SALT).unwrap()).unwrap();
        write_private(&home.session_json(), PY_SESSION.as_bytes()).unwrap();
        let me = HostUser {
            hostname: "fixture-host".into(),
            uid: 501,
        };
        let id = read_identity_as(&home, &me).unwrap().unwrap();
        assert_eq!(id.email, "Fixture@Example.com");
        assert_eq!(id.private_team_id().as_deref(), Some("PRIV-9"));
        assert_no_secret(&format!("{id:?}"));
        let other = HostUser { uid: 502, ..me };
        let e = session_err(read_identity_as(&home, &other));
        assert!(matches!(e, SessionError::Decryption { .. }), "{e:?}");
    }

    #[test]
    fn no_session_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(read_identity_as(&home, &host()).unwrap(), None);
        fs::create_dir(dir.path().join("auth")).unwrap();
        assert_eq!(read_identity_as(&home, &host()).unwrap(), None);
    }

    #[test]
    fn auth_dir_without_session_json_points_at_the_keyring_and_scope() {
        let (_d, home) = home_with_session(TEAMS);
        fs::remove_file(home.session_json()).unwrap();
        let e = session_err(read_identity_as(&home, &host()));
        assert!(matches!(e, SessionError::NotInFile { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("keyring"), "{msg}");
        assert!(msg.contains("--scope"), "{msg}");
        assert!(msg.contains("session.salt"), "{msg}");
    }

    #[test]
    fn wrong_host_or_uid_is_a_decryption_failure() {
        let (_d, home) = home_with_session(TEAMS);
        for other in [
            HostUser {
                hostname: "other-host".into(),
                uid: 1000,
            },
            HostUser {
                hostname: "build-host.example".into(),
                uid: 1001,
            },
        ] {
            let e = session_err(read_identity_as(&home, &other));
            assert!(matches!(e, SessionError::Decryption { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(msg.contains("another host or user"), "{msg}");
            assert!(msg.contains("--scope"), "{msg}");
            assert_no_secret(&msg);
        }
    }

    #[test]
    fn tampered_ciphertext_is_a_decryption_failure() {
        let (_d, home) = home_with_session(TEAMS);
        let mut v: serde_json::Value =
            serde_json::from_slice(&fs::read(home.session_json()).unwrap()).unwrap();
        let mut ct = hex::decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        v["ciphertext"] = hex::encode(ct).into();
        write_private(&home.session_json(), v.to_string().as_bytes()).unwrap();
        let e = session_err(read_identity_as(&home, &host()));
        assert!(matches!(e, SessionError::Decryption { .. }), "{e:?}");
    }

    #[test]
    fn salt_of_wrong_length_is_refused() {
        let (_d, home) = home_with_session(TEAMS);
        for len in [0usize, 8, 17, 32] {
            write_private(&home.session_salt(), &vec![1u8; len]).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            match e {
                SessionError::SaltLength { len: got, .. } => assert_eq!(got, len as u64),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn missing_salt_is_refused() {
        let (_d, home) = home_with_session(TEAMS);
        fs::remove_file(home.session_salt()).unwrap();
        let e = session_err(read_identity_as(&home, &host()));
        assert!(matches!(e, SessionError::SaltMissing { .. }), "{e:?}");
        assert!(e.to_string().contains("session.salt"), "{e}");
    }

    #[test]
    fn unsupported_version_is_refused_before_anything_else() {
        let (_d, home) = home_with_session(TEAMS);
        for (json, shown) in [
            (r#"{"version": 3, "payload": "x"}"#, "3"),
            (r#"{"version": 1, "nonce": "00", "ciphertext": "00"}"#, "1"),
            (r#"{"version": "2"}"#, "\"2\""),
        ] {
            write_private(&home.session_json(), json.as_bytes()).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            match &e {
                SessionError::UnsupportedVersion { version, .. } => assert_eq!(version, shown),
                other => panic!("{json}: {other:?}"),
            }
            assert!(e.to_string().contains("version 2"), "{e}");
        }
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let (_d, home) = home_with_session(TEAMS);
        for json in [
            "not json",
            "[2]",
            r#"{"nonce": "00", "ciphertext": "00"}"#,
            r#"{"version": 2, "ciphertext": "00"}"#,
            r#"{"version": 2, "nonce": "zz", "ciphertext": "00"}"#,
            r#"{"version": 2, "nonce": "000102", "ciphertext": "00"}"#,
            r#"{"version": 2, "nonce": "000102030405060708090a0b", "ciphertext": "0011"}"#,
            r#"{"version": 2, "nonce": "000102030405060708090a0b"}"#,
        ] {
            write_private(&home.session_json(), json.as_bytes()).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            assert!(matches!(e, SessionError::Malformed { .. }), "{json}: {e:?}");
        }
    }

    #[test]
    fn group_or_other_bits_are_refused_with_the_chmod() {
        let (_d, home) = home_with_session(TEAMS);
        for path in [home.session_json(), home.session_salt()] {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            match &e {
                SessionError::Permissions { path: p, mode } => {
                    assert_eq!(p, &path);
                    assert_eq!(*mode, 0o644);
                }
                other => panic!("{other:?}"),
            }
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("chmod 600 {}", path.display())),
                "{msg}"
            );
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        fs::set_permissions(home.session_json(), fs::Permissions::from_mode(0o640)).unwrap();
        let e = session_err(read_identity_as(&home, &host()));
        assert!(matches!(e, SessionError::Permissions { mode: 0o640, .. }));
        fs::set_permissions(home.session_json(), fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_identity_as(&home, &host()).unwrap().is_some());
    }

    #[test]
    fn chmod_hint_quotes_paths_with_spaces() {
        let e = SessionError::Permissions {
            path: "/tmp/a b/it's/session.json".into(),
            mode: 0o644,
        };
        assert!(
            e.to_string()
                .contains(r"chmod 600 '/tmp/a b/it'\''s/session.json'"),
            "{e}"
        );
    }

    #[test]
    fn no_private_team_is_ok_without_private_team_id() {
        for teams in [
            r#"[{"id": "t", "name": "T", "role": "member", "is_private_teamspace": false}]"#,
            "[]",
            "null",
        ] {
            let (_d, home) = home_with_session(teams);
            let id = read_identity_as(&home, &host()).unwrap().unwrap();
            assert_eq!(id.email, "Robert@Example.com");
            assert_eq!(id.private_team_id(), None, "{teams}");
        }
    }

    #[test]
    fn numeric_team_ids_and_missing_fields_are_tolerated() {
        let (_d, home) = home_with_session(r#"[{"id": 42, "is_private_teamspace": true}]"#);
        let id = read_identity_as(&home, &host()).unwrap().unwrap();
        assert_eq!(id.private_team_id().as_deref(), Some("42"));
        assert_eq!(id.teams[0].name, "");
    }

    #[test]
    fn plaintext_without_email_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        for plain in [
            format!(r#"{{"access_token": "{TOKEN}", "teams": []}}"#),
            format!(r#"{{"email": "  ", "access_token": "{TOKEN}"}}"#),
        ] {
            write_session(&home, &host(), plain.as_bytes()).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            assert!(matches!(e, SessionError::NoEmail { .. }), "{e:?}");
            assert_no_secret(&e.to_string());
            assert_no_secret(&format!("{e:?}"));
        }
    }

    #[test]
    fn bad_plaintext_errors_do_not_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        for plain in [
            format!(r#"{{"email": "{TOKEN}", "teams": "{TOKEN}"}}"#),
            format!(r#"{{"email": 5, "access_token": "{TOKEN}"}}"#),
            format!(r#"{{"access_token": "{TOKEN}" "#),
            format!(r#"{{"teams": [{{"id": "{TOKEN}", "is_private_teamspace": "{TOKEN}"}}]}}"#),
        ] {
            write_session(&home, &host(), plain.as_bytes()).unwrap();
            let e = session_err(read_identity_as(&home, &host()));
            assert!(
                matches!(e, SessionError::Malformed { .. }),
                "{plain}: {e:?}"
            );
            assert_no_secret(&e.to_string());
            assert_no_secret(&format!("{e:?}"));
        }
    }

    #[test]
    fn planted_tokens_appear_in_no_error_message() {
        let (_d, home) = home_with_session(TEAMS);
        let wrong = HostUser {
            hostname: "elsewhere".into(),
            uid: 0,
        };
        let mut messages = vec![session_err(read_identity_as(&home, &wrong)).to_string()];
        fs::set_permissions(home.session_json(), fs::Permissions::from_mode(0o666)).unwrap();
        messages.push(session_err(read_identity_as(&home, &host())).to_string());
        for m in &messages {
            assert_no_secret(m);
        }
    }
}
