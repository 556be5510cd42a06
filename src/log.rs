//! `--debug` diagnostics: `YYYY/MM/DD HH:MM:SS msg` lines on stderr, like Go's `log` package.
//! Without `--debug` nothing is written. Never log a secret value.
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Write one debug line (use the [`debug!`](crate::debug) macro).
pub fn write(args: std::fmt::Arguments<'_>) {
    if enabled() {
        let now = jiff::Zoned::now();
        eprintln!("{} {}", now.strftime("%Y/%m/%d %H:%M:%S"), args);
    }
}

/// `debug!("format", args…)`: a diagnostic line shown only with `--debug`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            $crate::log::write(format_args!($($arg)*));
        }
    };
}
