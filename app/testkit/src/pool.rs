//! The test constant-product pool (`cp_swap`, tests/programs/cp_swap) in the sandbox: loading
//! its `.so` next to cross_margin's, and opening a pool between two banks' mints.

use anyhow::{anyhow, Result};
use cross_margin_client::embedded::program_so_path;
use cross_margin_client::ix::BankRef;
use cross_margin_client::{EmbeddedChain, Pubkey, Signer};

/// `target/deploy/cp_swap.so`, built by scripts/build-sbf.sh with the program.
pub fn cp_swap_so_path() -> std::path::PathBuf {
    program_so_path().with_file_name("cp_swap.so")
}

/// Loads `cp_swap` into the chain at [`cp_swap::ID`].
pub fn load_cp_swap(chain: &mut EmbeddedChain) -> Result<()> {
    let path = cp_swap_so_path();
    let bytes = std::fs::read(&path).map_err(|e| {
        anyhow!("cannot read {}: {e}. Build it first: scripts/build-sbf.sh", path.display())
    })?;
    chain.svm.add_program(cp_swap::ID, &bytes).map_err(|e| anyhow!("cp_swap: {e:?}"))
}

/// A pool opened by [`open_pool`].
#[derive(Debug, Clone, Copy)]
pub struct TestPool {
    pub address: Pubkey,
    pub state: cp_swap::Pool,
}

/// Opens a pool between `a`'s and `b`'s mints with `fee_bps`, and a creator adds `amount_a`
/// and `amount_b` (native units) of liquidity through `AddLiquidity`.
pub fn open_pool(
    chain: &mut EmbeddedChain,
    a: &BankRef,
    b: &BankRef,
    amounts: (u64, u64),
    fee_bps: u16,
) -> Result<TestPool> {
    let pool = chain.new_keypair();
    let address = pool.pubkey();
    chain.set_account(address, cp_swap::ID, vec![0; cp_swap::Pool::LEN]);
    let (authority, _) = cp_swap::authority(&address);
    let vault_a = chain.create_token_account(&a.mint, &authority, 0);
    let vault_b = chain.create_token_account(&b.mint, &authority, 0);
    let init = cp_swap::init_pool(address, a.mint, b.mint, vault_a, vault_b, fee_bps);
    chain.send(&[init], &[&pool]).map_err(|f| anyhow!("init_pool: {:?} {:?}", f.error, f.logs))?;
    let account = chain.account(&address).ok_or_else(|| anyhow!("the pool account is gone"))?;
    let state = cp_swap::Pool::unpack(&account.data).map_err(|e| anyhow!("pool: {e:?}"))?;
    let creator = chain.funded_keypair(1_000_000_000).map_err(|e| anyhow!("{e}"))?;
    let source_a = chain.create_token_account(&a.mint, &creator.pubkey(), amounts.0);
    let source_b = chain.create_token_account(&b.mint, &creator.pubkey(), amounts.1);
    let add =
        cp_swap::add_liquidity(address, &state, (source_a, source_b), creator.pubkey(), amounts);
    chain
        .send(&[add], &[&creator])
        .map_err(|f| anyhow!("add_liquidity: {:?} {:?}", f.error, f.logs))?;
    Ok(TestPool { address, state })
}
