//! Times commands run in turn, for `bench/run-all`: `interleave RUNS WARMUP -- CMD... -- CMD...`
//! runs the first command, then the second, and so on, RUNS times over (after WARMUP untimed
//! rounds), and prints one line per command: its median wall time in seconds, then its argv.
//!
//! hyperfine runs each command's runs in one block, so a ratio between two commands compares
//! two stretches of time; on a shared or virtual machine, whose speed drifts by several percent
//! from one second to the next, that drift lands on the ratio. Taken in turn, every run of one
//! command has runs of the other just before and after it. Each run is a spawn and a wait, with
//! stdout to /dev/null, the same for every command.
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(runs), Some(warmup)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: interleave RUNS WARMUP -- CMD [ARG...] [-- CMD [ARG...]]...");
        return ExitCode::FAILURE;
    };
    let cmds: Vec<&[String]> = args[2..]
        .split(|a| a == "--")
        .filter(|c| !c.is_empty())
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); cmds.len()];
    for round in 0..warmup + runs {
        for (i, argv) in cmds.iter().enumerate() {
            let start = Instant::now();
            let status = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status();
            let took = start.elapsed().as_secs_f64();
            match status {
                Ok(s) if s.success() => {}
                other => {
                    eprintln!("interleave: {} failed: {other:?}", argv.join(" "));
                    return ExitCode::FAILURE;
                }
            }
            if round >= warmup {
                times[i].push(took);
            }
        }
    }
    for (argv, t) in cmds.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        println!("{:.9} {}", t[t.len() / 2], argv.join(" "));
    }
    ExitCode::SUCCESS
}
