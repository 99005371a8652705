//! Swapping seized collateral back into the debt's mint: one trait, [`SwapAdapter`], so the
//! venue is pluggable, and the built-in [`ConstantProductAdapter`] over the test pool program
//! `cp_swap` (tests/programs/cp_swap). A production keeper plugs in an aggregator the same
//! way (docs/KEEPER.md, "Swap adapters": Jupiter's quote and swap-instructions APIs).
//!
//! An adapter returns *instructions*, not a transaction, so that the keeper can put the swap
//! in the same transaction as the liquidation, the withdrawal and the repayment: inside a
//! flash-loan bracket everything must land atomically or not at all.

use cp_swap::{CpSwapError, Pool, TokenAccount};
use cross_margin_client::{Instruction, Pubkey};

use crate::backend::{Backend, BackendError, RetryPolicy};

/// What a swap of `amount_in` is expected to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapQuote {
    pub in_mint: Pubkey,
    pub out_mint: Pubkey,
    pub amount_in: u64,
    /// At the venue's state when quoted.
    pub amount_out: u64,
    /// The venue's own identifier of the route (the pool for [`ConstantProductAdapter`]).
    pub route: Pubkey,
}

/// The instructions of one swap, to be composed with others into one transaction.
#[derive(Debug, Clone, Default)]
pub struct SwapInstructions {
    /// Before the swap (e.g. creating a token account); may be empty.
    pub setup: Vec<Instruction>,
    pub swap: Vec<Instruction>,
    /// After the swap (e.g. closing a wrapped-SOL account); may be empty.
    pub cleanup: Vec<Instruction>,
    /// Address lookup tables the instructions need to fit a transaction (Jupiter returns
    /// them); the keeper compiles a v0 message with them.
    pub lookup_tables: Vec<Pubkey>,
}

impl SwapInstructions {
    /// Setup, swap and cleanup in order.
    pub fn all(&self) -> Vec<Instruction> {
        self.setup.iter().chain(&self.swap).chain(&self.cleanup).cloned().collect()
    }
}

/// The wallet side of a swap: who signs, and its token accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapAccounts {
    pub owner: Pubkey,
    /// Holds `in_mint`; pays `amount_in`.
    pub source: Pubkey,
    /// Holds `out_mint`; receives the output.
    pub destination: Pubkey,
}

/// Why no swap was quoted or built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapError {
    /// The adapter knows no route between the two mints.
    NoRoute { in_mint: Pubkey, out_mint: Pubkey },
    /// The venue refused the amounts (the pool's own error).
    Pool(CpSwapError),
    /// A configured venue account is missing or not what it should be.
    BadVenue { address: Pubkey, reason: String },
    /// The chain could not be read.
    Backend(BackendError),
}

impl std::fmt::Display for SwapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRoute { in_mint, out_mint } => {
                write!(f, "no swap route {in_mint} -> {out_mint}")
            }
            Self::Pool(error) => write!(f, "the pool refuses the swap ({error:?})"),
            Self::BadVenue { address, reason } => write!(f, "swap venue {address}: {reason}"),
            Self::Backend(error) => write!(f, "reading the swap venue: {error}"),
        }
    }
}

impl std::error::Error for SwapError {}

impl From<BackendError> for SwapError {
    fn from(error: BackendError) -> Self {
        Self::Backend(error)
    }
}

impl From<CpSwapError> for SwapError {
    fn from(error: CpSwapError) -> Self {
        Self::Pool(error)
    }
}

/// A swap venue.
pub trait SwapAdapter {
    /// For logs.
    fn name(&self) -> String;

    /// Whether the venue can swap `in_mint` into `out_mint` at all (without asking for a
    /// quote). An aggregator answers yes and lets `quote` refuse.
    fn has_route(&self, _in_mint: &Pubkey, _out_mint: &Pubkey) -> bool {
        true
    }

    /// What swapping `amount_in` of `in_mint` into `out_mint` pays now. `backend` reads the
    /// venue's on-chain state (an HTTP adapter may ignore it).
    fn quote(
        &self,
        backend: &mut dyn Backend,
        in_mint: &Pubkey,
        out_mint: &Pubkey,
        amount_in: u64,
    ) -> Result<SwapQuote, SwapError>;

    /// The instructions that swap `quote.amount_in` and refuse (on chain) to pay less than
    /// `min_out`.
    fn swap_instructions(
        &self,
        quote: &SwapQuote,
        accounts: &SwapAccounts,
        min_out: u64,
    ) -> Result<SwapInstructions, SwapError>;
}

/// The least output accepted for `amount_out` quoted, with `slippage_bps` of tolerance
/// (rounded up: never more tolerant than asked).
pub fn min_out_after_slippage(amount_out: u64, slippage_bps: u16) -> u64 {
    let keep = 10_000u128.saturating_sub(u128::from(slippage_bps));
    let min = (u128::from(amount_out) * keep).div_ceil(10_000);
    u64::try_from(min).unwrap_or(u64::MAX)
}

/// One configured `cp_swap` pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRoute {
    pub address: Pubkey,
    pub pool: Pool,
}

/// The test constant-product pool (`cp_swap`), one pool per mint pair, configured by address.
/// Quotes read the two vaults and apply the program's own formula (`cp_swap::math`), so a quote
/// is exactly what the swap pays if nothing trades in between.
#[derive(Debug, Clone, Default)]
pub struct ConstantProductAdapter {
    pub pools: Vec<PoolRoute>,
    pub retry: RetryPolicy,
}

impl ConstantProductAdapter {
    /// Reads the configured pools (their mints and vaults) from the chain.
    pub fn load(
        backend: &mut dyn Backend,
        pools: &[Pubkey],
        retry: RetryPolicy,
    ) -> Result<Self, SwapError> {
        let raw = retry.run("swap pools", || backend.multiple_accounts(pools))?;
        let mut routes = Vec::with_capacity(pools.len());
        for (address, account) in pools.iter().zip(raw) {
            let bad = |reason: String| SwapError::BadVenue { address: *address, reason };
            let account = account.ok_or_else(|| bad("not found".into()))?;
            if account.owner != cp_swap::ID {
                return Err(bad(format!("owned by {}, not cp_swap", account.owner)));
            }
            let pool = Pool::unpack(&account.data).map_err(|e| bad(format!("{e:?}")))?;
            routes.push(PoolRoute { address: *address, pool });
        }
        Ok(Self { pools: routes, retry })
    }

    fn route(&self, in_mint: &Pubkey, out_mint: &Pubkey) -> Result<&PoolRoute, SwapError> {
        self.pools
            .iter()
            .find(|r| {
                let (a, b) = (r.pool.mint_a, r.pool.mint_b);
                (a, b) == (*in_mint, *out_mint) || (b, a) == (*in_mint, *out_mint)
            })
            .ok_or(SwapError::NoRoute { in_mint: *in_mint, out_mint: *out_mint })
    }
}

impl SwapAdapter for ConstantProductAdapter {
    fn name(&self) -> String {
        format!("cp_swap ({} pools)", self.pools.len())
    }

    fn has_route(&self, in_mint: &Pubkey, out_mint: &Pubkey) -> bool {
        self.route(in_mint, out_mint).is_ok()
    }

    fn quote(
        &self,
        backend: &mut dyn Backend,
        in_mint: &Pubkey,
        out_mint: &Pubkey,
        amount_in: u64,
    ) -> Result<SwapQuote, SwapError> {
        let route = self.route(in_mint, out_mint)?;
        let (vault_in, vault_out, _) = route.pool.direction(in_mint)?;
        let vaults =
            self.retry.run("pool vaults", || backend.multiple_accounts(&[vault_in, vault_out]))?;
        let mut reserves = [0u64; 2];
        for ((reserve, account), address) in
            reserves.iter_mut().zip(vaults).zip([vault_in, vault_out])
        {
            let bad = |reason: String| SwapError::BadVenue { address, reason };
            let account = account.ok_or_else(|| bad("vault not found".into()))?;
            *reserve =
                TokenAccount::unpack(&account.data).map_err(|e| bad(format!("{e:?}")))?.amount;
        }
        let amount_out =
            cp_swap::math::amount_out(reserves[0], reserves[1], amount_in, route.pool.fee_bps)?;
        Ok(SwapQuote {
            in_mint: *in_mint,
            out_mint: *out_mint,
            amount_in,
            amount_out,
            route: route.address,
        })
    }

    fn swap_instructions(
        &self,
        quote: &SwapQuote,
        accounts: &SwapAccounts,
        min_out: u64,
    ) -> Result<SwapInstructions, SwapError> {
        let route = self.route(&quote.in_mint, &quote.out_mint)?;
        let swap = cp_swap::swap(
            route.address,
            &route.pool,
            &quote.in_mint,
            accounts.source,
            accounts.destination,
            accounts.owner,
            quote.amount_in,
            min_out,
        )?;
        Ok(SwapInstructions { swap: vec![swap], ..SwapInstructions::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_rounds_towards_the_quote() {
        assert_eq!(min_out_after_slippage(10_000, 50), 9_950);
        // 999 × 0.995 = 994.005 → 995: never accept more slippage than configured.
        assert_eq!(min_out_after_slippage(999, 50), 995);
        assert_eq!(min_out_after_slippage(1_000, 0), 1_000);
        assert_eq!(min_out_after_slippage(1_000, 10_000), 0);
        assert_eq!(
            min_out_after_slippage(u64::MAX, 1),
            (u64::MAX as u128 * 9_999).div_ceil(10_000) as u64
        );
    }
}
