//! `cargo run -p xtask -- idl [--check]`
//!
//! Builds the IDL from the program (Anchor's `idl-build` feature, the same mechanism as
//! `anchor idl build`), writes the JSON and the camelCase TypeScript type that frontends import to
//! `app/idl/`, and mirrors both where Anchor puts them (`target/idl`, `target/types`).
//! `--check` writes nothing under `app/` and fails if the committed files are out of date.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use heck::{ToLowerCamelCase, ToUpperCamelCase};
use serde_json::Value;

const PROGRAM: &str = "cross_margin";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["idl"] => idl(false),
        ["idl", "--check"] => idl(true),
        ["localnet-wallet"] => localnet_wallet(None),
        ["localnet-wallet", path] => localnet_wallet(Some(Path::new(path))),
        _ => Err(anyhow::anyhow!(
            "usage: cargo run -p xtask -- idl [--check] | localnet-wallet [PATH]"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Creates the Solana CLI's default wallet (`~/.config/solana/id.json`, or `path`) for local
/// validators when there is none, as `solana-keygen new` would; an existing file is never
/// touched. `anchor test` needs it (the provider wallet, the program's upgrade authority) and a
/// fresh machine without Solana's tools has none.
fn localnet_wallet(path: Option<&Path>) -> Result<()> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => {
            let home = std::env::var_os("HOME").context("HOME is not set")?;
            PathBuf::from(home).join(".config/solana/id.json")
        }
    };
    if path.exists() {
        println!("wallet: keeping the existing {}", path.display());
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let keypair = solana_keypair::Keypair::new();
    solana_keypair::write_keypair_file(&keypair, &path)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    eprintln!(
        "\n*** created a NEW localnet wallet {} (public key {}): for local validators only ***\n",
        path.display(),
        solana_signer::Signer::pubkey(&keypair)
    );
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn idl(check: bool) -> Result<()> {
    let root = workspace_root();
    // anchor-lang-idl re-invokes cargo with `+{toolchain}` when RUSTUP_TOOLCHAIN is set (which the
    // rustup proxy does for us), and that path is broken; without it rust-toolchain.toml decides.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    let idl = anchor_lang_idl::build::IdlBuilder::new()
        .program_path(root.join("programs").join(PROGRAM))
        .resolution(true)
        .cargo_args(vec![
            // Its own corner of the shared target dir: the IDL build uses other features and
            // RUSTFLAGS, and would otherwise evict the test build's artifacts.
            "--target-dir".into(),
            root.join("target/idl-build").display().to_string(),
        ])
        .build()
        .context("building the IDL")?;
    let json = serde_json::to_string_pretty(&idl)? + "\n";
    let ts = typescript_type(&serde_json::to_value(&idl)?)?;

    write(&root.join(format!("target/idl/{PROGRAM}.json")), &json)?;
    write(&root.join(format!("target/types/{PROGRAM}.ts")), &ts)?;

    let committed_json = root.join(format!("app/idl/{PROGRAM}.json"));
    let committed_ts = root.join(format!("app/idl/{PROGRAM}.ts"));
    if check {
        let mut stale = Vec::new();
        for (path, fresh) in [(&committed_json, &json), (&committed_ts, &ts)] {
            if std::fs::read_to_string(path).ok().as_deref() != Some(fresh.as_str()) {
                stale.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
        if !stale.is_empty() {
            bail!(
                "committed IDL is out of date: {}. Regenerate with `cargo run -p xtask -- idl` and commit.",
                stale.join(", ")
            );
        }
        println!("IDL up to date: app/idl/{PROGRAM}.json, app/idl/{PROGRAM}.ts");
    } else {
        write(&committed_json, &json)?;
        write(&committed_ts, &ts)?;
        println!("wrote app/idl/{PROGRAM}.json and app/idl/{PROGRAM}.ts");
    }
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// The TypeScript type Anchor's TS client expects: the IDL with every identifier-like string
/// value of an object member in lowerCamelCase, except public keys.
fn typescript_type(idl: &Value) -> Result<String> {
    let mut camel = idl.clone();
    camel_case_values(&mut camel);
    let type_name = PROGRAM.to_upper_camel_case();
    Ok(format!(
        "/**\n * Type of the `{PROGRAM}` IDL in camelCase, for `Program<{type_name}>` in TypeScript.\n * Generated by `cargo run -p xtask -- idl`; the IDL itself is `{PROGRAM}.json` beside it.\n */\nexport type {type_name} = {};\n",
        serde_json::to_string_pretty(&camel)?
    ))
}

fn camel_case_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for member in map.values_mut() {
                match member {
                    Value::String(s) if is_identifier(s) && !is_pubkey(s) => {
                        *s = s.to_lower_camel_case()
                    }
                    other => camel_case_values(other),
                }
            }
        }
        Value::Array(items) => {
            items.iter_mut().filter(|v| !v.is_string()).for_each(camel_case_values)
        }
        _ => {}
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_pubkey(s: &str) -> bool {
    bs58::decode(s).into_vec().is_ok_and(|bytes| bytes.len() == 32)
}
