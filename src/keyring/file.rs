//! The encrypted file backend (docs/compatibility.md §4.7 `file`).
//!
//! One file per item in a directory (default `~/.awsvault/keys/`), named by the percent-encoded
//! key and holding a JWE compact token of the item JSON, encrypted with a passphrase — the same
//! format as the Go tool, so both can share a directory.
//!
//! Improvements over the Go backend (docs/compatibility.md §7.19): only real items are listed (no `.DS_Store`,
//! sub-directories or temporary files); writes are atomic (temporary file, fsync, rename); and
//! before the first write in a process the passphrase is checked against an existing item, so a
//! typo cannot silently create items under a second passphrase. Nothing is printed to stdout: the
//! prompt goes to the controlling terminal.
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::jwe::{self, JweError};
/// The PBKDF2 iteration counts `--file-kdf-iterations` may choose from: the Go tool's, up to the
/// most the Go tool reads.
pub use super::jwe::{DEFAULT_P2C as DEFAULT_KDF_ITERATIONS, MAX_WRITE_P2C as MAX_KDF_ITERATIONS};
use super::{Config, Error, Item, Keyring, Result};

/// Prefix of our temporary files; they are never listed as keys.
const TEMP_PREFIX: &str = ".aws-vault-tmp-";
/// Files larger than this are not aws-vault items (real ones are a few KiB).
const MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;
/// How many existing items with a non-matching passphrase we try before refusing a write.
const MAX_VERIFY_ATTEMPTS: usize = 3;

const NO_TERMINAL: &str =
    "no passphrase for the file backend: set AWS_VAULT_FILE_PASSPHRASE or run aws-vault from a terminal";

type Prompter = Box<dyn Fn(&str) -> io::Result<String> + Send + Sync>;

#[cfg(not(windows))]
type DirLock = fs::File;
#[cfg(windows)]
type DirLock = win::NamedMutex;

/// The `file` keyring. Construction does no I/O; the directory is read and the passphrase
/// obtained on first use.
pub struct FileKeyring {
    dir: PathBuf,
    env_passphrase: Option<Zeroizing<String>>,
    /// PBKDF2 iterations for the items this process writes (reading honours each item's own).
    p2c: u32,
    state: Mutex<State>,
    prompter: Prompter,
}

#[derive(Default)]
struct State {
    passphrase: Option<Zeroizing<String>>,
    /// The passphrase was typed at a prompt (not taken from the environment).
    prompted: bool,
    /// The passphrase decrypted an existing item, or the store was empty and it was confirmed:
    /// writes may go ahead.
    verified: bool,
    /// The last key derived from the passphrase (jwe::Kek explains why writes may reuse it).
    kek: Option<jwe::Kek>,
}

impl std::fmt::Debug for FileKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyring")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FileKeyring {
    /// Set up the backend from the global configuration. No I/O and no prompt happen here.
    pub fn new(cfg: &Config) -> FileKeyring {
        FileKeyring {
            dir: resolve_dir(cfg),
            env_passphrase: cfg.file_passphrase.clone(),
            p2c: cfg.file_kdf_iterations.unwrap_or(jwe::DEFAULT_P2C),
            state: Mutex::new(State::default()),
            prompter: Box::new(prompt_on_tty),
        }
    }

    /// Replace the terminal prompt (used when `AWS_VAULT_FILE_PASSPHRASE` is unset) by another
    /// source, e.g. a GUI prompt driver or a test. The function gets the prompt text and returns
    /// the typed passphrase.
    pub fn with_prompter(
        mut self,
        prompter: impl Fn(&str) -> io::Result<String> + Send + Sync + 'static,
    ) -> FileKeyring {
        self.prompter = Box::new(prompter);
        self
    }

    /// Obtain the passphrase now (environment, else the prompt) and check it the way the first
    /// write would: it must open an existing item, or be confirmed in an empty store. The
    /// credential agent calls this once before it detaches from the terminal.
    pub fn unlock(&self) -> Result<()> {
        let mut st = self.lock();
        self.verify_for_write(&mut st)
    }

    /// A copy of the passphrase once [`FileKeyring::unlock`] has obtained it. Only the Windows
    /// agent needs it: it hands the passphrase to the agent process it starts (on Unix that
    /// process is a fork and has its own copy).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub fn passphrase_copy(&self) -> Option<Zeroizing<String>> {
        self.lock().passphrase.clone()
    }

    /// The directory holding the item files (after `~/` expansion).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn dir_string(&self) -> String {
        self.dir.display().to_string()
    }

    fn item_path(&self, key: &str) -> PathBuf {
        self.dir.join(encode_file_name(key))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn not_a_directory(&self) -> Error {
        Error::Io {
            path: self.dir_string(),
            source: io::Error::new(
                io::ErrorKind::NotADirectory,
                "exists but is not a directory (check --file-dir / AWS_VAULT_FILE_DIR)",
            ),
        }
    }

    /// `Ok(false)` when the directory does not exist yet.
    fn check_dir(&self) -> Result<bool> {
        match fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => Ok(true),
            Ok(_) => Err(self.not_a_directory()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Io {
                path: self.dir_string(),
                source: e,
            }),
        }
    }

    fn ensure_dir(&self) -> Result<()> {
        if self.check_dir()? {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&self.dir).map_err(|e| Error::Io {
            path: self.dir_string(),
            source: e,
        })?;
        if self.check_dir()? {
            Ok(())
        } else {
            Err(self.not_a_directory())
        }
    }

    /// Item files, sorted by file name: every regular file except our temporary files and dot
    /// files that hold no token (`.DS_Store`). A file that is not (or no longer) a JWE token is listed too, so that
    /// reading it names the damaged file instead of the profile seeming to have no credentials.
    fn item_files(&self) -> Result<Vec<(String, PathBuf)>> {
        if !self.check_dir()? {
            return Ok(Vec::new());
        }
        let io_err = |e| Error::Io {
            path: self.dir_string(),
            source: e,
        };
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            // The directory entry's own type where the file system records it (no `stat` per
            // file on the hot path); symlinks are followed: a link to an item file is an item.
            let is_file = match entry.file_type() {
                Ok(t) if t.is_file() => true,
                Ok(t) if !t.is_symlink() => false,
                _ => fs::metadata(&path).is_ok_and(|m| m.is_file()),
            };
            if !is_file {
                continue;
            }
            // A dot file is an item only if it holds a token (a profile may be named `.x`, but
            // `.DS_Store` and friends are not items).
            if name.starts_with('.')
                && !read_capped(&path).is_ok_and(|c| jwe::looks_like_compact(&c))
            {
                continue;
            }
            out.push((name, path));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The cached passphrase, obtaining it on first use (environment, else the prompt).
    fn passphrase<'a>(&self, st: &'a mut State) -> Result<&'a Zeroizing<String>> {
        if st.passphrase.is_none() {
            let (pass, prompted) = match &self.env_passphrase {
                Some(p) => (p.clone(), false),
                None => {
                    let prompt = format!("Enter passphrase to unlock \"{}\": ", self.dir_string());
                    (self.ask(&prompt)?, true)
                }
            };
            st.passphrase = Some(pass);
            st.prompted = prompted;
        }
        Ok(st.passphrase.get_or_insert_with(Default::default))
    }

    fn ask(&self, prompt: &str) -> Result<Zeroizing<String>> {
        match (self.prompter)(prompt) {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(e) if crate::prompt::is_no_terminal(&e) => {
                Err(Error::Backend(NO_TERMINAL.to_string()))
            }
            Err(e) => Err(Error::Backend(format!(
                "could not read the passphrase for the file backend: {e}"
            ))),
        }
    }

    /// Read and decrypt one item file.
    fn decrypt_file(
        &self,
        path: &Path,
        passphrase: &[u8],
        memo: &mut Option<jwe::Kek>,
    ) -> Result<Item> {
        let content = read_capped(path).map_err(|e| self.read_error(path, e))?;
        decrypt_content(path, &content, passphrase, memo)
    }

    fn read_error(&self, path: &Path, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound,
            io::ErrorKind::NotADirectory => {
                if matches!(fs::metadata(&self.dir), Ok(m) if !m.is_dir()) {
                    self.not_a_directory()
                } else {
                    Error::NotFound
                }
            }
            _ => Error::Io {
                path: path.display().to_string(),
                source: e,
            },
        }
    }

    /// Before the first write: the passphrase must open an existing item, or, in an empty store,
    /// a typed passphrase is confirmed once.
    fn verify_for_write(&self, st: &mut State) -> Result<()> {
        if st.verified {
            return Ok(());
        }
        let files = self.item_files()?;
        let passphrase = self.passphrase(st)?.clone();
        let mut first_mismatch: Option<PathBuf> = None;
        let mut attempts = 0;
        for (_, path) in &files {
            if attempts >= MAX_VERIFY_ATTEMPTS {
                break;
            }
            match self.decrypt_file(path, passphrase.as_bytes(), &mut st.kek) {
                Ok(_) => {
                    st.verified = true;
                    return Ok(());
                }
                Err(Error::Decrypt { .. }) => {
                    attempts += 1;
                    first_mismatch.get_or_insert_with(|| path.clone());
                }
                // Damaged or vanished files say nothing about the passphrase.
                Err(_) => continue,
            }
        }
        if let Some(path) = first_mismatch {
            return Err(Error::Decrypt {
                path: path.display().to_string(),
            });
        }
        // Nothing to check against: a new store.
        if st.prompted {
            let again = self.ask("Confirm passphrase: ")?;
            if again != passphrase {
                st.passphrase = None;
                st.kek = None;
                st.prompted = false;
                return Err(Error::Backend("passphrases do not match".to_string()));
            }
        }
        st.verified = true;
        Ok(())
    }

    /// An exclusive lock on the key directory itself (no lock file, so nothing extra shows
    /// up in the directory the Go tool lists): `flock` on the directory on Unix, a named mutex
    /// derived from the directory's path on Windows (a directory handle cannot be locked
    /// there). Released when the guard is dropped, and by the system if the process dies.
    fn lock_dir_for_first_write(&self) -> Result<DirLock> {
        let io_err = |e| Error::Io {
            path: self.dir_string(),
            source: e,
        };
        #[cfg(windows)]
        {
            win::NamedMutex::lock(&self.dir).map_err(io_err)
        }
        #[cfg(not(windows))]
        {
            let dir = fs::File::open(&self.dir).map_err(io_err)?;
            #[cfg(unix)]
            dir.lock().map_err(io_err)?;
            Ok(dir)
        }
    }

    fn write_atomically(&self, path: &Path, content: &[u8]) -> Result<()> {
        let staged = self.stage(path, content)?;
        Self::put_in_place(staged, path)?;
        self.sync_dir();
        Ok(())
    }

    /// Write `content` to a synced temporary file in the directory, to be renamed over `path`.
    fn stage(&self, path: &Path, content: &[u8]) -> Result<tempfile::NamedTempFile> {
        let dir_err = |e| Error::Io {
            path: self.dir_string(),
            source: e,
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o600));
        }
        let mut tmp = builder.tempfile_in(&self.dir).map_err(dir_err)?;
        let tmp_err = |e| Error::Io {
            path: path.display().to_string(),
            source: e,
        };
        tmp.write_all(content).map_err(tmp_err)?;
        tmp.as_file().sync_all().map_err(tmp_err)?;
        Ok(tmp)
    }

    fn put_in_place(staged: tempfile::NamedTempFile, path: &Path) -> Result<()> {
        staged.persist(path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Make renames durable; failure here is not worth failing a write for.
    fn sync_dir(&self) {
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
    }

    /// Re-encrypt every item with this keyring's iteration count (`--file-kdf-iterations`) and,
    /// when `new_passphrase` is given, under that passphrase instead of the current one.
    ///
    /// All or nothing, as far as a directory allows: every item is decrypted first, and one that
    /// does not open (another passphrase, a damaged file) stops everything before anything is
    /// written. The new tokens then go to synced temporary files beside the items, and only when
    /// all of them are on disk are they renamed over the old files — a rename does not fail
    /// halfway, so an interruption leaves each file whole, in its old or its new form. The
    /// plaintext is carried over byte for byte (never re-serialised), so fields the Go tool wrote
    /// survive. The directory lock is held throughout, so another process's first write waits.
    pub fn reencrypt(&self, new_passphrase: Option<&[u8]>) -> Result<Reencrypted> {
        let mut st = self.lock();
        let files = self.item_files()?;
        let mut report = Reencrypted {
            items: files.len(),
            from: Vec::new(),
            to: self.p2c,
        };
        if files.is_empty() {
            return Ok(report);
        }
        let _dir_lock = self.lock_dir_for_first_write()?;
        let passphrase = self.passphrase(&mut st)?.clone();
        let mut plaintexts = Vec::with_capacity(files.len());
        for (_, path) in &files {
            let content = read_capped(path).map_err(|e| self.read_error(path, e))?;
            let (plaintext, token) = open_token(path, &content, passphrase.as_bytes(), &mut None)?;
            Item::from_json(&plaintext).map_err(|reason| corrupt(path, reason))?;
            // The header was validated by the decryption just done.
            let p2c = jwe::iterations(token).unwrap_or_default();
            if !report.from.contains(&p2c) {
                report.from.push(p2c);
            }
            plaintexts.push((path, plaintext));
        }
        report.from.sort_unstable();
        st.verified = true;

        let key = new_passphrase.unwrap_or(passphrase.as_bytes());
        let mut staged = Vec::with_capacity(plaintexts.len());
        for (path, plaintext) in &plaintexts {
            let token = jwe::encrypt(plaintext, key, self.p2c);
            staged.push((*path, self.stage(path, token.as_bytes())?));
        }
        for (path, tmp) in staged {
            Self::put_in_place(tmp, path)?;
        }
        self.sync_dir();
        if let Some(p) = new_passphrase {
            st.passphrase = Some(Zeroizing::new(String::from_utf8_lossy(p).into_owned()));
            st.kek = None;
        }
        Ok(report)
    }
}

/// What [`FileKeyring::reencrypt`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reencrypted {
    /// How many items were rewritten.
    pub items: usize,
    /// The distinct iteration counts the items had before, ascending.
    pub from: Vec<u32>,
    /// The iteration count every item has now.
    pub to: u32,
}

impl Keyring for FileKeyring {
    fn get(&self, key: &str) -> Result<Item> {
        if !valid_key(key) {
            return Err(Error::NotFound);
        }
        let path = self.item_path(key);
        // Read before asking for the passphrase: a missing item needs no prompt.
        let content = read_capped(&path).map_err(|e| self.read_error(&path, e))?;
        let mut st = self.lock();
        let passphrase = self.passphrase(&mut st)?.clone();
        let item = decrypt_content(&path, &content, passphrase.as_bytes(), &mut st.kek)?;
        st.verified = true;
        Ok(item)
    }

    fn set(&self, item: &Item) -> Result<()> {
        if !valid_key(&item.key) {
            return Err(Error::Backend(format!(
                "the file backend cannot store an item under the key {:?}",
                item.key
            )));
        }
        self.ensure_dir()?;
        let mut st = self.lock();
        // Until this process's passphrase is verified, its first write is serialised with
        // every other process's: a writer into an empty directory holds the lock until its
        // item is on disk, so the next one verifies against that item instead of also finding
        // the directory empty and writing under a second passphrase.
        let _first_write = if st.verified {
            None
        } else {
            Some(self.lock_dir_for_first_write()?)
        };
        self.verify_for_write(&mut st)?;
        let passphrase = self.passphrase(&mut st)?.clone();
        let token = jwe::encrypt_memo(
            &item.to_json(),
            passphrase.as_bytes(),
            self.p2c,
            &mut st.kek,
        );
        drop(st);
        self.write_atomically(&self.item_path(&item.key), token.as_bytes())
    }

    fn remove(&self, key: &str) -> Result<()> {
        if !valid_key(key) {
            return Err(Error::NotFound);
        }
        let path = self.item_path(key);
        fs::remove_file(&path).map_err(|e| self.read_error(&path, e))
    }

    fn keys(&self) -> Result<Vec<String>> {
        Ok(self
            .item_files()?
            .into_iter()
            .filter_map(|(name, _)| String::from_utf8(decode_file_name(&name)).ok())
            .collect())
    }
}

fn decrypt_content(
    path: &Path,
    content: &[u8],
    passphrase: &[u8],
    memo: &mut Option<jwe::Kek>,
) -> Result<Item> {
    let (plaintext, _) = open_token(path, content, passphrase, memo)?;
    Item::from_json(&plaintext).map_err(|reason| corrupt(path, reason))
}

/// Decrypt an item file's content to its plaintext JSON, and the token it was in.
fn open_token<'c>(
    path: &Path,
    content: &'c [u8],
    passphrase: &[u8],
    memo: &mut Option<jwe::Kek>,
) -> Result<(Zeroizing<Vec<u8>>, &'c str)> {
    let corrupt = |reason: String| corrupt(path, reason);
    let token = std::str::from_utf8(content)
        .ok()
        .filter(|t| jwe::looks_like_compact(t.as_bytes()))
        .ok_or_else(|| corrupt("not an aws-vault item (expected a JWE compact token)".into()))?;
    let jwe_err = |e| match e {
        JweError::Decrypt => Error::Decrypt {
            path: path.display().to_string(),
        },
        JweError::Malformed(r) | JweError::Unsupported(r) => corrupt(r),
    };
    let plaintext = jwe::decrypt_memo(token, passphrase, memo).map_err(jwe_err)?;
    Ok((plaintext, token))
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::Corrupt {
        path: path.display().to_string(),
        reason,
    }
}

fn read_capped(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let file = fs::File::open(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than {MAX_FILE_SIZE} bytes"),
        ));
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than {MAX_FILE_SIZE} bytes"),
        ));
    }
    Ok(buf)
}

/// Keys that cannot be file names in the directory.
fn valid_key(key: &str) -> bool {
    !key.is_empty() && key != "." && key != ".." && !key.contains('\0')
}

/// Ask on the controlling terminal, never on stdout.
fn prompt_on_tty(prompt: &str) -> io::Result<String> {
    crate::prompt::read_secret(prompt).map(|mut answer| std::mem::take(&mut *answer))
}

/// `--file-dir` with a leading `~/` replaced by the home directory; default `~/.awsvault/keys/`.
fn resolve_dir(cfg: &Config) -> PathBuf {
    match cfg.file_dir.as_deref() {
        None | Some("") => cfg.home.join(".awsvault").join("keys/"),
        Some(dir) => {
            if let Some(rest) = dir.strip_prefix("~/") {
                cfg.home.join(rest)
            } else if cfg!(windows) && dir.starts_with("~\\") {
                cfg.home.join(&dir[2..])
            } else {
                PathBuf::from(dir)
            }
        }
    }
}

/// The file name for a key on this platform ([`encode_file_name_for`]).
pub fn encode_file_name(key: &str) -> String {
    encode_file_name_for(key, cfg!(windows))
}

/// Device names Windows reserves in every directory, with or without an extension.
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The Go backend's file name for a key: `%` and `/` percent-encoded (uppercase hex), the rest
/// verbatim. With `windows`, also what a Windows file name cannot hold (docs/differences.md
/// D60): `< > : " \ | ? *` and control characters, a trailing `.` or space (Windows drops
/// them), and the first letter of a reserved device name (`CON`, `NUL.txt`, …). The Go tool
/// does not do this and fails on Windows for every `oidc:` key; every name it can write there
/// is encoded the same way here, and [`decode_file_name`] reads both.
pub fn encode_file_name_for(key: &str, windows: bool) -> String {
    fn push_hex(out: &mut String, c: char) {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    let mut out = String::with_capacity(key.len());
    let stem = key.split('.').next().unwrap_or("");
    let reserved = windows
        && WINDOWS_RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(stem));
    for (i, c) in key.char_indices() {
        let last = i + c.len_utf8() == key.len();
        match c {
            '%' | '/' => push_hex(&mut out, c),
            c if windows
                && (matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*')
                    || c.is_ascii_control()
                    || (last && matches!(c, '.' | ' '))
                    || (i == 0 && reserved)) =>
            {
                push_hex(&mut out, c)
            }
            c => out.push(c),
        }
    }
    out
}

/// Inverse of [`encode_file_name`]: every `%XX` (hex, either case) becomes that byte; any other
/// `%` is kept.
pub fn decode_file_name(name: &str) -> Vec<u8> {
    crate::gofmt::quote::unescape_hex(name, b'%')
}

#[cfg(windows)]
mod win {
    //! A named mutex standing in for `flock` on the key directory.
    use std::io;
    use std::path::Path;

    use sha2::{Digest, Sha256};
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, WAIT_ABANDONED, WAIT_OBJECT_0};
    use windows_sys::Win32::System::Threading::{
        CreateMutexW, ReleaseMutex, WaitForSingleObject, INFINITE,
    };

    pub struct NamedMutex(HANDLE);

    impl NamedMutex {
        /// Own the mutex named after `dir` (case-folded, as Windows paths are), waiting for
        /// another process that owns it. An owner that died leaves it "abandoned", which
        /// still hands it over.
        pub fn lock(dir: &Path) -> io::Result<NamedMutex> {
            let path = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            let folded = path.to_string_lossy().to_lowercase();
            let digest = Sha256::digest(folded.trim_end_matches(['\\', '/']).as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            let name: Vec<u16> = format!("Local\\aws-vault-file-{hex}")
                .encode_utf16()
                .chain(Some(0))
                .collect();
            // SAFETY: `name` is NUL-terminated; a null security descriptor is allowed.
            let handle = unsafe { CreateMutexW(std::ptr::null(), 0, name.as_ptr()) };
            if handle.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `handle` is a mutex handle we own.
            match unsafe { WaitForSingleObject(handle, INFINITE) } {
                WAIT_OBJECT_0 | WAIT_ABANDONED => Ok(NamedMutex(handle)),
                _ => {
                    let e = io::Error::last_os_error();
                    // SAFETY: closing the handle we opened.
                    unsafe { CloseHandle(handle) };
                    Err(e)
                }
            }
        }
    }

    impl Drop for NamedMutex {
        fn drop(&mut self) {
            // SAFETY: we own the mutex and the handle.
            unsafe {
                ReleaseMutex(self.0);
                CloseHandle(self.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn cfg(dir: &Path, pass: Option<&str>) -> Config {
        Config {
            file_dir: Some(dir.display().to_string()),
            file_passphrase: pass.map(|p| Zeroizing::new(p.to_string())),
            home: PathBuf::from("/nonexistent-home"),
            ..Config::default()
        }
    }

    fn item(key: &str, data: &str) -> Item {
        Item {
            key: key.into(),
            data: Zeroizing::new(data.as_bytes().to_vec()),
            label: format!("aws-vault ({key})"),
            keychain_not_trust_application: true,
            ..Item::default()
        }
    }

    /// A prompter answering from a script and counting calls.
    fn scripted(answers: &[&str]) -> (Arc<AtomicUsize>, impl Fn(&str) -> io::Result<String>) {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let answers: Vec<String> = answers.iter().map(|s| s.to_string()).collect();
        let f = move |_prompt: &str| {
            let i = c.fetch_add(1, Ordering::SeqCst);
            answers
                .get(i)
                .cloned()
                .ok_or_else(|| io::Error::other("no more answers"))
        };
        (count, f)
    }

    #[test]
    fn file_name_encoding() {
        assert_eq!(
            encode_file_name_for("abc/.././123", false),
            "abc%2F..%2F.%2F123"
        );
        assert_eq!(
            encode_file_name_for("oidc:https://x.awsapps.com/start", false),
            "oidc:https:%2F%2Fx.awsapps.com%2Fstart"
        );
        assert_eq!(encode_file_name_for("100%/x", false), "100%25%2Fx");
        assert_eq!(encode_file_name_for("a,b:c é", false), "a,b:c é");
        for key in [
            "abc/.././123",
            "oidc:https://x.awsapps.com/start",
            "100%/x",
            "%2F",
            "%",
            "é/ü%",
            "sts.GetSessionToken,cHJvZA,,1735689600",
        ] {
            assert_eq!(
                decode_file_name(&encode_file_name_for(key, false)),
                key.as_bytes()
            );
        }
        assert_eq!(decode_file_name("a%2fb%2Fc"), b"a/b/c");
        assert_eq!(decode_file_name("50%"), b"50%");
        assert_eq!(decode_file_name("50%z1"), b"50%z1");
        assert_eq!(decode_file_name("%4"), b"%4");
        assert_eq!(decode_file_name("%41%"), b"A%");
        assert_eq!(decode_file_name("%e2%82%ac"), "€".as_bytes());
    }

    #[test]
    fn windows_file_names_hold_no_forbidden_character() {
        let enc = |k| encode_file_name_for(k, true);
        assert_eq!(
            enc("oidc:https://x.awsapps.com/start"),
            "oidc%3Ahttps%3A%2F%2Fx.awsapps.com%2Fstart"
        );
        assert_eq!(enc(r#"a<b>c"d\e|f?g*h"#), "a%3Cb%3Ec%22d%5Ce%7Cf%3Fg%2Ah");
        assert_eq!(enc("tab\there"), "tab%09here");
        assert_eq!(enc("dev. "), "dev.%20");
        assert_eq!(enc("dev."), "dev%2E");
        assert_eq!(enc("con"), "%63on");
        assert_eq!(enc("NUL.json"), "%4EUL.json");
        assert_eq!(enc("console"), "console");
        // Every name the Go tool can create on Windows is unchanged.
        for key in [
            "prod",
            "a,b c",
            "sts.GetSessionToken,cHJvZA,,1735689600",
            "100%/x",
            "é",
        ] {
            assert_eq!(enc(key), encode_file_name_for(key, false));
        }
        for key in [
            "oidc:https://x.awsapps.com/start",
            r#"a<b>c"d\e|f?g*h"#,
            "con",
            "dev. ",
            "x.",
            "é:ü",
        ] {
            let name = enc(key);
            assert!(
                !name.contains(|c: char| r#"<>:"\|?*"#.contains(c) || c.is_ascii_control()),
                "{name}"
            );
            assert!(!name.ends_with(['.', ' ']), "{name}");
            assert_eq!(decode_file_name(&name), key.as_bytes());
        }
    }

    #[test]
    fn dir_resolution() {
        let mut c = Config {
            home: PathBuf::from("/home/u"),
            ..Config::default()
        };
        assert_eq!(resolve_dir(&c), PathBuf::from("/home/u/.awsvault/keys/"));
        assert_eq!(
            FileKeyring::new(&c).dir().display().to_string(),
            "/home/u/.awsvault/keys/"
        );
        c.file_dir = Some("~/vault".into());
        assert_eq!(resolve_dir(&c), PathBuf::from("/home/u/vault"));
        c.file_dir = Some("/abs/~/x".into());
        assert_eq!(resolve_dir(&c), PathBuf::from("/abs/~/x"));
        c.file_dir = Some("~user/x".into());
        assert_eq!(resolve_dir(&c), PathBuf::from("~user/x"));
        c.file_dir = Some(String::new());
        assert_eq!(resolve_dir(&c), PathBuf::from("/home/u/.awsvault/keys/"));
    }

    #[test]
    fn new_does_no_io_and_does_not_prompt() {
        let (count, p) = scripted(&[]);
        let c = cfg(Path::new("/nonexistent/dir/for/test"), None);
        let kr = FileKeyring::new(&c).with_prompter(p);
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(!kr.dir().exists());
        // keys() on a missing directory needs neither I/O success nor a passphrase.
        assert_eq!(kr.keys().unwrap(), Vec::<String>::new());
        // get/remove of a missing item: NotFound, no prompt.
        assert!(matches!(kr.get("x"), Err(Error::NotFound)));
        assert!(matches!(kr.remove("x"), Err(Error::NotFound)));
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(!kr.dir().exists());
    }

    #[test]
    fn set_get_remove_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/keys");
        let kr = FileKeyring::new(&cfg(&dir, Some("pw")));
        kr.set(&item("prod", "{\"AccessKeyID\":\"AKIA\"}")).unwrap();
        kr.set(&item("oidc:https://x.awsapps.com/start", "{}"))
            .unwrap();
        kr.set(&item("a%b", "1")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("prod")), 0o600);
        }
        assert!(dir
            .join(encode_file_name("oidc:https://x.awsapps.com/start"))
            .is_file());
        assert!(dir.join("a%25b").is_file());
        assert_eq!(
            kr.keys().unwrap(),
            vec!["a%b", "oidc:https://x.awsapps.com/start", "prod"]
        );
        let got = kr.get("prod").unwrap();
        assert_eq!(got, item("prod", "{\"AccessKeyID\":\"AKIA\"}"));
        // Overwrite.
        kr.set(&item("prod", "v2")).unwrap();
        assert_eq!(&kr.get("prod").unwrap().data[..], b"v2");
        // A second instance with the same passphrase reads it.
        let kr2 = FileKeyring::new(&cfg(&dir, Some("pw")));
        assert_eq!(&kr2.get("a%b").unwrap().data[..], b"1");
        kr.remove("prod").unwrap();
        assert!(matches!(kr.remove("prod"), Err(Error::NotFound)));
        assert!(matches!(kr.get("prod"), Err(Error::NotFound)));
        assert_eq!(kr.keys().unwrap().len(), 2);
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with(TEMP_PREFIX)),
            "{names:?}"
        );
    }

    #[test]
    fn invalid_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), Some("pw")));
        for k in ["", ".", ".."] {
            assert!(matches!(kr.get(k), Err(Error::NotFound)));
            assert!(matches!(kr.remove(k), Err(Error::NotFound)));
            assert!(matches!(kr.set(&item(k, "x")), Err(Error::Backend(_))));
        }
        // ".." encoded with a slash stays inside the directory.
        kr.set(&item("../escape", "x")).unwrap();
        assert!(tmp.path().join("..%2Fescape").is_file());
        assert_eq!(kr.keys().unwrap(), vec!["../escape"]);
    }

    #[test]
    fn wrong_passphrase_on_get() {
        let tmp = tempfile::tempdir().unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("right")))
            .set(&item("prod", "x"))
            .unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), Some("wrong")));
        let err = kr.get("prod").unwrap_err();
        let path = tmp.path().join("prod").display().to_string();
        assert!(matches!(&err, Error::Decrypt { path: p } if *p == path));
        assert_eq!(
            err.to_string(),
            format!("could not decrypt {path}: wrong passphrase or corrupt file")
        );
    }

    #[test]
    fn write_with_mismatching_passphrase_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("right")))
            .set(&item("prod", "x"))
            .unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), Some("typo")));
        let err = kr.set(&item("dev", "y")).unwrap_err();
        assert!(matches!(err, Error::Decrypt { .. }), "{err}");
        assert!(!tmp.path().join("dev").exists());
        // The right passphrase may write.
        FileKeyring::new(&cfg(tmp.path(), Some("right")))
            .set(&item("dev", "y"))
            .unwrap();
    }

    #[test]
    fn verification_skips_corrupt_files_and_accepts_any_match() {
        let tmp = tempfile::tempdir().unwrap();
        // A corrupt JWE-shaped file sorts first; an item under another passphrase next.
        fs::write(tmp.path().join("0-corrupt"), "a.b.c.d.e").unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("other")))
            .set(&item("1-other", "x"))
            .unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("pw")))
            .set(&item("2-mine", "x"))
            .unwrap_err();
        // Only corrupt files: nothing to verify against, the write goes ahead.
        let tmp2 = tempfile::tempdir().unwrap();
        fs::write(tmp2.path().join("junk"), "a.b.c.d.e").unwrap();
        FileKeyring::new(&cfg(tmp2.path(), Some("pw")))
            .set(&item("k", "x"))
            .unwrap();
    }

    #[test]
    fn prompt_is_lazy_cached_and_confirmed_on_first_item() {
        let tmp = tempfile::tempdir().unwrap();
        let (count, p) = scripted(&["secret", "secret"]);
        let kr = FileKeyring::new(&cfg(tmp.path(), None)).with_prompter(p);
        assert!(kr.keys().unwrap().is_empty());
        assert_eq!(count.load(Ordering::SeqCst), 0);
        kr.set(&item("a", "1")).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2); // passphrase + confirmation
        kr.set(&item("b", "2")).unwrap();
        assert_eq!(&kr.get("a").unwrap().data[..], b"1");
        assert_eq!(count.load(Ordering::SeqCst), 2);

        // A later process: one prompt, no confirmation, and the passphrase is checked.
        let (count, p) = scripted(&["secret"]);
        let kr = FileKeyring::new(&cfg(tmp.path(), None)).with_prompter(p);
        kr.set(&item("c", "3")).unwrap();
        assert_eq!(&kr.get("b").unwrap().data[..], b"2");
        assert_eq!(count.load(Ordering::SeqCst), 1);

        let (_, p) = scripted(&["typo"]);
        let kr = FileKeyring::new(&cfg(tmp.path(), None)).with_prompter(p);
        assert!(matches!(
            kr.set(&item("d", "4")),
            Err(Error::Decrypt { .. })
        ));
        assert!(!tmp.path().join("d").exists());
    }

    #[test]
    fn confirmation_mismatch() {
        let tmp = tempfile::tempdir().unwrap();
        let (_, p) = scripted(&["one", "two"]);
        let kr = FileKeyring::new(&cfg(tmp.path(), None)).with_prompter(p);
        let err = kr.set(&item("a", "1")).unwrap_err();
        assert_eq!(err.to_string(), "passphrases do not match");
        assert!(kr.keys().unwrap().is_empty());
    }

    #[test]
    fn env_passphrase_even_empty_is_used_without_prompt() {
        let tmp = tempfile::tempdir().unwrap();
        let (count, p) = scripted(&[]);
        let kr = FileKeyring::new(&cfg(tmp.path(), Some(""))).with_prompter(p);
        kr.set(&item("a", "1")).unwrap();
        assert_eq!(&kr.get("a").unwrap().data[..], b"1");
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn no_terminal_is_a_clear_backend_error() {
        let tmp = tempfile::tempdir().unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("pw")))
            .set(&item("a", "1"))
            .unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), None))
            .with_prompter(|_: &str| Err(io::Error::from_raw_os_error(libc::ENXIO)));
        let err = kr.get("a").unwrap_err();
        assert!(
            matches!(&err, Error::Backend(m) if m == NO_TERMINAL),
            "{err}"
        );
    }

    #[test]
    fn real_prompt_without_a_terminal() {
        if fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok()
        {
            return; // interactive run: the real prompt would block
        }
        let tmp = tempfile::tempdir().unwrap();
        FileKeyring::new(&cfg(tmp.path(), Some("pw")))
            .set(&item("a", "1"))
            .unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), None));
        let err = kr.get("a").unwrap_err();
        assert!(
            matches!(&err, Error::Backend(m) if m == NO_TERMINAL),
            "{err}"
        );
        let err = kr.set(&item("b", "2")).unwrap_err();
        assert!(
            matches!(&err, Error::Backend(m) if m == NO_TERMINAL),
            "{err}"
        );
    }

    #[test]
    fn keys_skips_non_items() {
        let tmp = tempfile::tempdir().unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), Some("pw")));
        kr.set(&item("prod", "x")).unwrap();
        fs::write(tmp.path().join(".DS_Store"), b"\x00\x00\x00\x01Bud1").unwrap();
        fs::write(tmp.path().join("notes.txt"), "hello world").unwrap();
        fs::write(tmp.path().join(format!("{TEMP_PREFIX}abc")), "a.b.c.d.e").unwrap();
        fs::write(tmp.path().join("empty"), "").unwrap();
        fs::create_dir(tmp.path().join("subdir")).unwrap();
        fs::create_dir(tmp.path().join("dir.with.dots.x.y")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(tmp.path().join("prod"), tmp.path().join("link")).unwrap();
        // Damaged items (not JWE, empty) are listed so that reading them names the file.
        let mut want = vec!["empty", "notes.txt", "prod"];
        if cfg!(unix) {
            want.insert(1, "link");
        }
        assert_eq!(kr.keys().unwrap(), want);
        // A corrupt file that is not JWE reads as Corrupt, not a panic.
        let err = kr.get("notes.txt").unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        // A directory in place of an item.
        assert!(kr.get("subdir").is_err());
    }

    #[test]
    fn dir_path_is_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plainfile");
        fs::write(&file, "x").unwrap();
        let kr = FileKeyring::new(&cfg(&file, Some("pw")));
        let path = file.display().to_string();
        for err in [
            kr.keys().unwrap_err(),
            kr.set(&item("a", "1")).unwrap_err(),
            kr.get("a").unwrap_err(),
        ] {
            assert!(
                matches!(&err, Error::Io { path: p, .. } if *p == path),
                "{err}"
            );
            assert!(err.to_string().contains("not a directory"), "{err}");
        }
    }

    #[test]
    fn corrupt_files_are_reported_with_path_and_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let kr = FileKeyring::new(&cfg(tmp.path(), Some("pw")));
        kr.set(&item("good", "x")).unwrap();
        let token = fs::read_to_string(tmp.path().join("good")).unwrap();
        // Huge p2c.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        use base64::Engine as _;
        parts[0] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            r#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":99999999,"p2s":"AAAAAAAAAAAAAAAA"}"#,
        );
        fs::write(tmp.path().join("hostile"), parts.join(".")).unwrap();
        let err = kr.get("hostile").unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { reason, .. } if reason == "p2c 99999999 exceeds the maximum of 1300000"),
            "{err}"
        );
        assert!(err.to_string().contains("hostile"));
        // Valid JWE whose plaintext is not Item JSON.
        fs::write(
            tmp.path().join("notjson"),
            jwe::encrypt(b"AKIASECRETVALUE not json", b"pw", jwe::DEFAULT_P2C),
        )
        .unwrap();
        let err = kr.get("notjson").unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }));
        assert!(!err.to_string().contains("AKIA"), "{err}");
    }
}
