//! Cross-margin lending and liquidation protocol.
//!
//! This file is only the table of contents: every instruction lives in its own file under
//! `instructions/` (accounts struct + handler), account layouts under `state/`, pure risk maths
//! under `health/`, `math`, `oracle` and `positions`.

use anchor_lang::prelude::*;

pub mod bankruptcy;
pub mod constants;
pub mod error;
pub mod events;
pub mod health;
pub mod health_accounts;
pub mod instructions;
pub mod liquidation;
pub mod math;
pub mod oracle;
pub mod perp;
pub mod positions;
pub mod state;
pub mod token;

pub use instructions::*;
use perp::PerpOrder;
use state::{BankConfig, GroupConfigOptions, PerpMarketConfig};

// The upstream SBF route links compiler builtins (memcpy, 128-bit division, ...) from this crate;
// platform-tools ships its own, so the dependency only exists for `target_arch = "bpf"`.
#[cfg(target_arch = "bpf")]
use solana_compiler_builtins as _;

declare_id!("EaGVDFkjhZXetL3A3VkfFCxg1zu6bcEvoaT6pPLw7Gob");

#[program]
pub mod cross_margin {
    use super::*;

    // --- admin ---

    /// Creates a group: the root of one isolated market (banks, accounts, risk settings).
    /// `admin` signs and becomes the group's administrator. The oracle program ids are stored in
    /// the group, not compiled in, because Pyth has changed them before.
    pub fn create_group(
        ctx: Context<CreateGroup>,
        group_num: u32,
        pyth_receiver_program: Pubkey,
        pyth_legacy_program: Pubkey,
    ) -> Result<()> {
        instructions::create_group::handler(
            ctx,
            group_num,
            pyth_receiver_program,
            pyth_legacy_program,
        )
    }

    /// Group settings, at once: the switches (pause: no withdraw or borrow; reduce-only), the
    /// emergency admin, a longer delay, and, in setup (delay 0) or unchanged, the rest. The
    /// settings to change are the `Some` fields of `options`. In a live group a change that can
    /// hurt positions is refused (`ConfigChangeMustBeQueued`): see `queue_group_config`.
    pub fn configure_group(
        ctx: Context<ConfigureGroup>,
        options: GroupConfigOptions,
    ) -> Result<()> {
        instructions::configure_group::handler(ctx, options)
    }

    /// Adds a bank for a mint, with its vault and pinned oracle. In a live group the bank opens
    /// (deposit and borrow limits above zero) only when its queued configuration is applied.
    pub fn add_bank(ctx: Context<AddBank>, config: BankConfig) -> Result<()> {
        instructions::add_bank::handler(ctx, config)
    }

    /// Replaces a bank's configuration and pinned oracle, at once. In a live group only changes
    /// that tighten new risk (lower init asset weight or limits, higher init liability weight);
    /// anything else is refused (`ConfigChangeMustBeQueued`): see `queue_bank_config`.
    pub fn configure_bank(ctx: Context<ConfigureBank>, config: BankConfig) -> Result<()> {
        instructions::configure_bank::handler(ctx, config)
    }

    /// Queues a bank configuration (and pinned oracle) that anyone may apply once the group's
    /// delay has passed. One queued change per bank.
    pub fn queue_bank_config(ctx: Context<ConfigureBank>, config: BankConfig) -> Result<()> {
        instructions::queue_bank_config::handler(ctx, config)
    }

    /// Applies a bank's queued change once its delay has passed. Permissionless.
    pub fn apply_bank_config(ctx: Context<ApplyBankConfig>) -> Result<()> {
        instructions::apply_bank_config::handler(ctx)
    }

    /// Withdraws a bank's queued change.
    pub fn cancel_bank_config(ctx: Context<CancelBankConfig>) -> Result<()> {
        instructions::cancel_bank_config::handler(ctx)
    }

    /// Queues a group change (oracle program ids, liquidation end target, dust threshold,
    /// delay) that anyone may apply once the delay has passed. One queued change per group.
    pub fn queue_group_config(
        ctx: Context<ConfigureGroup>,
        options: GroupConfigOptions,
    ) -> Result<()> {
        instructions::queue_group_config::handler(ctx, options)
    }

    /// Applies the group's queued change once its delay has passed. Permissionless.
    pub fn apply_group_config(ctx: Context<ApplyGroupConfig>) -> Result<()> {
        instructions::apply_group_config::handler(ctx)
    }

    /// Withdraws the group's queued change.
    pub fn cancel_group_config(ctx: Context<ConfigureGroup>) -> Result<()> {
        instructions::cancel_group_config::handler(ctx)
    }

    /// Proposes a new admin (first step of a transfer; `Pubkey::default()` withdraws it).
    pub fn propose_admin(ctx: Context<ConfigureGroup>, new_admin: Pubkey) -> Result<()> {
        instructions::propose_admin::handler(ctx, new_admin)
    }

    /// The proposed admin signs and becomes the admin.
    pub fn accept_admin(ctx: Context<AcceptAdmin>) -> Result<()> {
        instructions::accept_admin::handler(ctx)
    }

    /// Turns on pause and/or reduce-only; the admin or the emergency admin signs.
    pub fn halt(ctx: Context<Halt>, pause: bool, reduce_only: bool) -> Result<()> {
        instructions::halt::handler(ctx, pause, reduce_only)
    }

    /// Adds perp market `market_index` (the group's next) with its pinned oracle and settle bank.
    /// In a live group it opens (open-interest caps above zero) only when its queued
    /// configuration is applied.
    pub fn add_perp_market(
        ctx: Context<AddPerpMarket>,
        market_index: u16,
        config: PerpMarketConfig,
    ) -> Result<()> {
        instructions::add_perp_market::handler(ctx, market_index, config)
    }

    /// Replaces a perp market's configuration and pinned oracle at once; in a live group only
    /// tightenings (lower init weights and caps), anything else must be queued.
    pub fn configure_perp_market(
        ctx: Context<ConfigurePerpMarket>,
        config: PerpMarketConfig,
    ) -> Result<()> {
        instructions::configure_perp_market::handler(ctx, config)
    }

    /// Queues a perp market change that anyone may apply once the group's delay has passed.
    pub fn queue_perp_market_config(
        ctx: Context<ConfigurePerpMarket>,
        config: PerpMarketConfig,
    ) -> Result<()> {
        instructions::queue_perp_market_config::handler(ctx, config)
    }

    /// Applies a perp market's queued change once due. Permissionless.
    pub fn apply_perp_market_config(ctx: Context<ApplyPerpMarketConfig>) -> Result<()> {
        instructions::apply_perp_market_config::handler(ctx)
    }

    /// Withdraws a perp market's queued change.
    pub fn cancel_perp_market_config(ctx: Context<CancelPerpMarketConfig>) -> Result<()> {
        instructions::cancel_perp_market_config::handler(ctx)
    }

    // --- users ---

    pub fn create_account(ctx: Context<CreateAccount>, account_num: u32) -> Result<()> {
        instructions::create_account::handler(ctx, account_num)
    }

    /// Deposits tokens (repaying a borrow in the same bank first). No oracle needed.
    pub fn deposit(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
        instructions::deposit::handler(ctx, amount)
    }

    /// Withdraws from a deposit; init health must stay >= 0.
    pub fn withdraw(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
        instructions::withdraw::handler(ctx, amount)
    }

    /// Borrows from a bank; init health must stay >= 0.
    pub fn borrow(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
        instructions::borrow::handler(ctx, amount)
    }

    /// Repays a borrow (at most the debt). No oracle needed.
    pub fn repay(ctx: Context<BankTransfer>, amount: u64) -> Result<()> {
        instructions::repay::handler(ctx, amount)
    }

    /// Trades a perp market against its pool at the oracle price ± fee and price impact. An order
    /// that grows or flips the position needs init health >= 0 after it (remaining accounts: the
    /// health accounts). A stale oracle fills nothing.
    pub fn place_perp_order(ctx: Context<PerpTrade>, order: PerpOrder) -> Result<()> {
        instructions::place_perp_order::handler(ctx, order)
    }

    /// Moves settle-bank deposit into a perp market's liquidity pool for pool shares.
    pub fn pool_deposit(ctx: Context<PerpTrade>, amount: u64) -> Result<()> {
        instructions::pool_deposit::handler(ctx, amount)
    }

    /// Redeems pool shares into the settle bank, within the pool's cover of open interest.
    pub fn pool_withdraw(ctx: Context<PerpTrade>, lp_shares: u64) -> Result<()> {
        instructions::pool_withdraw::handler(ctx, lp_shares)
    }

    // --- keepers ---

    /// Settles a perp position's PnL (funding included) into the account's settle-bank position,
    /// paid by or to the market's pool. Permissionless: it never lowers health. A loss beyond the
    /// settle deposit becomes a borrow only up to the account's equity, judged with the health
    /// accounts passed as remaining accounts (none: only the deposit pays).
    pub fn settle_pnl(ctx: Context<PerpKeeper>) -> Result<()> {
        instructions::settle_pnl::handler(ctx)
    }

    /// Liquidates a perp position of an account whose maint health is below zero (or, once
    /// started, below the end target): up to `max_base_lots` close against the pool at the
    /// oracle price less the fees, the liquidation fee paid to the signer's account.
    /// Remaining accounts: the liquidatee's health accounts.
    pub fn liquidate_perp(ctx: Context<LiquidatePerp>, max_base_lots: u64) -> Result<()> {
        instructions::liquidate_perp::handler(ctx, max_base_lots)
    }

    /// Writes off a bankrupt account's loss in a perp market: its settle deposit, then the
    /// market's insurance fund, then the pool's LPs pay it. Permissionless. Remaining accounts:
    /// the account's health accounts.
    pub fn resolve_perp_bankruptcy(ctx: Context<PerpKeeper>) -> Result<()> {
        instructions::resolve_perp_bankruptcy::handler(ctx)
    }

    /// Liquidates an account whose maint health is below zero (or, once started, below the end
    /// target): the signer's own account takes over up to `max_liab_amount` of the liquidatee's
    /// debt in `liab_bank` and receives its deposit in `asset_bank` plus the liquidation fee.
    /// Remaining accounts: `liquidatee_pairs` `(bank, oracle)` pairs for the liquidatee's
    /// positions before (extra pairs skipped, a deposit it opened in this slot may be missing),
    /// then the liquidator's pairs for its positions after (exactly).
    pub fn liquidate(
        ctx: Context<Liquidate>,
        max_liab_amount: u64,
        liquidatee_pairs: u8,
    ) -> Result<()> {
        instructions::liquidate::handler(ctx, max_liab_amount, liquidatee_pairs)
    }

    /// Writes off a bankrupt account's debt in `liab_bank`: the bank's insurance fund pays
    /// first, the rest is shared by the bank's depositors (lower deposit index). Permissionless.
    /// Remaining accounts: `(bank, oracle)` per active position of the account.
    pub fn resolve_bankruptcy(ctx: Context<ResolveBankruptcy>) -> Result<()> {
        instructions::resolve_bankruptcy::handler(ctx)
    }

    /// Tops up a bank's insurance fund from the admin's tokens.
    pub fn fund_insurance(ctx: Context<FundInsurance>, amount: u64) -> Result<()> {
        instructions::fund_insurance::handler(ctx, amount)
    }

    /// Tops up a perp market's insurance fund from the admin's settle tokens.
    pub fn fund_perp_insurance(ctx: Context<FundPerpInsurance>, amount: u64) -> Result<()> {
        instructions::fund_perp_insurance::handler(ctx, amount)
    }

    /// Closes an empty account and refunds its rent. Deposits worth zero native units are
    /// burned first: remaining accounts are then the bank (writable) of every position left, in
    /// slot order.
    pub fn close_account(ctx: Context<CloseAccount>) -> Result<()> {
        instructions::close_account::handler(ctx)
    }

    /// The `health` view with hypothetical price moves: `token_shocks` per bank index and
    /// `perp_shocks` per perp market index, in bps of the oracle price (every side scaled, the
    /// asset sides rounded down and the liability sides up). Read-only; remaining accounts as
    /// `health`.
    pub fn health_under_shock(
        ctx: Context<HealthView>,
        token_shocks: Vec<health::PriceShock>,
        perp_shocks: Vec<health::PriceShock>,
    ) -> Result<AccountHealth> {
        instructions::health::under_shock(ctx, token_shocks, perp_shocks)
    }

    /// Opens a flash loan on the account for the rest of the transaction: until its
    /// `flash_loan_end` (which must follow, top level, for the same account), the account's
    /// borrows, withdrawals and liquidations skip their init-health check. No fee.
    pub fn flash_loan_begin(ctx: Context<FlashLoanBegin>) -> Result<()> {
        instructions::flash_loan_begin::handler(ctx)
    }

    /// Closes the account's flash loan: init health >= 0 over every position. Remaining
    /// accounts: the account's health accounts as the bracket left it.
    pub fn flash_loan_end(ctx: Context<FlashLoanEnd>) -> Result<()> {
        instructions::flash_loan_end::handler(ctx)
    }

    /// Read-only health view, returned as return data.
    pub fn health(ctx: Context<HealthView>) -> Result<AccountHealth> {
        instructions::health::handler(ctx)
    }

    /// The health view once every queued change (the group's and the banks passed) applies: what
    /// a frontend shows its users before a change takes effect. Remaining accounts as `health`,
    /// with a bank's queued oracle where it re-pins one.
    pub fn health_after_pending_changes(ctx: Context<HealthView>) -> Result<AccountHealth> {
        instructions::health::after_pending_changes(ctx)
    }
}
