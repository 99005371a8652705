//! Bad Monte Carlo input on the command line fails before any run, with the reason named.

use std::process::Command;

/// Runs `cross-margin ARGS` and returns (success, stderr).
fn cli(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cross-margin")).args(args).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/crash-30pct.toml");

#[test]
fn bad_seeds_shards_and_threads_are_refused_by_name() {
    let cases: [(&[&str], &str); 7] = [
        (&["--seeds", "ten"], "expected N (seeds 0..N) or a..b"),
        (&["--seeds", "9..3"], "the range holds no seed"),
        (&["--seeds", "10", "--shard", "2/2"], "the index must be below the count"),
        (&["--seeds", "10", "--shard", "1:2"], "expected i/n"),
        (&["--shard", "0/2"], "--seeds"),
        (&["--seeds", "10", "--threads", "0"], "--threads"),
        (&["--seeds", "10", "--seed", "3"], "cannot be used with"),
    ];
    for (args, reason) in cases {
        let mut all = vec!["simulate", SCENARIO];
        all.extend_from_slice(args);
        let (ok, stderr) = cli(&all);
        assert!(!ok && stderr.contains(reason), "{args:?}: {stderr}");
    }
    let (ok, stderr) =
        cli(&["simulate", SCENARIO, "--seeds", "0..2", "--shard", "0/3", "--out", "/nonexistent"]);
    assert!(!ok && stderr.contains("3 shards for 2 seeds"), "{stderr}");
}

#[test]
fn merge_refuses_a_directory_without_a_shard() {
    let empty = std::env::temp_dir().join(format!("cm-mc-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = empty.join("out");
    let (ok, stderr) = cli(&["merge", out.to_str().unwrap(), empty.to_str().unwrap()]);
    assert!(!ok && stderr.contains("monte_carlo.json"), "{stderr}");
    let (ok, stderr) = cli(&["merge", out.to_str().unwrap()]);
    assert!(!ok && stderr.contains("SHARDS"), "{stderr}");
    std::fs::remove_dir_all(&empty).unwrap();
}
