//! `aws-vault version`: the version string on stdout.
pub fn run() -> i32 {
    println!("{}", super::VERSION);
    0
}
