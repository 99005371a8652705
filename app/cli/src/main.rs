//! `cross-margin`: the project's command-line entry point.

use anyhow::{anyhow, Result};
use clap::{Parser, Subcommand};

use cross_margin::events::GroupCreated;
use cross_margin::state::Group;
use cross_margin_client::{embedded, ix, EmbeddedChain, Pubkey, Signer};

#[derive(Parser)]
#[command(version, about = "Cross-margin protocol: demo, keeper and stress lab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start an in-process chain running the real program, create a group, and report what
    /// happened and what it cost in compute units.
    Demo {
        /// The program to load (default: target/deploy/cross_margin.so).
        #[arg(long, env = "CROSS_MARGIN_SO")]
        program: Option<std::path::PathBuf>,
    },
}

/// Pyth's mainnet program ids at the time of writing. Groups store their own, so a change on
/// Pyth's side is a `configure_group`, not a program upgrade.
const PYTH_RECEIVER_MAINNET: &str = "rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ";
const PYTH_LEGACY_MAINNET: &str = "FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH";

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo { program } => demo(program.unwrap_or_else(embedded::program_so_path)),
    }
}

fn demo(program: std::path::PathBuf) -> Result<()> {
    let size = std::fs::metadata(&program).map(|m| m.len()).unwrap_or(0);
    let mut chain = EmbeddedChain::with_program(&program)?;
    println!(
        "embedded chain: LiteSVM with {} ({size} bytes) as {}",
        program.display(),
        cross_margin::ID
    );

    let admin = chain.funded_keypair(10_000_000_000)?;
    let receiver: Pubkey = PYTH_RECEIVER_MAINNET.parse()?;
    let legacy: Pubkey = PYTH_LEGACY_MAINNET.parse()?;

    let (create, group) =
        ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, receiver, legacy);
    let executed = chain
        .send(&[create.clone()], &[&admin])
        .map_err(|f| anyhow!("create_group failed: {:?}\n{}", f.error, f.logs.join("\n")))?;
    let stored: Group = chain.load(&group).ok_or_else(|| anyhow!("group account missing"))?;
    println!("\ncreate_group  {:>6} CU", executed.compute_units);
    println!("  group            {group}");
    println!("  admin            {}", stored.admin);
    println!("  pyth receiver    {}", stored.pyth_receiver_program);
    println!("  pyth legacy      {}", stored.pyth_legacy_program);
    println!("  layout version   {}, {} bytes + 8 discriminator", stored.version, Group::SIZE);
    for event in executed.events::<GroupCreated>() {
        println!(
            "  event GroupCreated {{ group: {}, group_num: {} }}",
            event.group, event.group_num
        );
    }

    // The same call again must be refused, and the group must stay as it was.
    let again = chain.send(&[create], &[&admin]);
    match again {
        Ok(_) => return Err(anyhow!("a second create_group for the same seeds succeeded")),
        Err(failed) => println!(
            "\ncreate_group again  rejected: {:?} ({} CU); group unchanged: {}",
            failed.error,
            failed.compute_units,
            chain.load::<Group>(&group).map(|g| g.admin) == Some(admin.pubkey())
        ),
    }
    let (bad, _) =
        ix::create_group(admin.pubkey(), chain.payer.pubkey(), 1, Pubkey::default(), legacy);
    if let Err(failed) = chain.send(&[bad], &[&admin]) {
        println!(
            "create_group with a zero oracle id  rejected: {} (code {})",
            failed.error_name().unwrap_or("?"),
            failed.custom_code().unwrap_or_default()
        );
    }
    Ok(())
}
