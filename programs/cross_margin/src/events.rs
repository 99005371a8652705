//! Events for every state change a keeper or an indexer cares about. Emitted with `emit!`
//! (program log data), decoded by the IDL's event discriminators.

use anchor_lang::prelude::*;

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCreated {
    pub group: Pubkey,
    pub admin: Pubkey,
    pub group_num: u32,
    pub pyth_receiver_program: Pubkey,
    pub pyth_legacy_program: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfigured {
    pub group: Pubkey,
    pub paused: bool,
    pub reduce_only: bool,
    pub pyth_receiver_program: Pubkey,
    pub pyth_legacy_program: Pubkey,
    pub liquidation_end_buffer_bps: u32,
    pub bankruptcy_dust_quote: u64,
    pub config_delay_secs: u32,
    pub emergency_admin: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAdded {
    pub group: Pubkey,
    pub bank: Pubkey,
    pub mint: Pubkey,
    pub bank_index: u16,
    pub oracle: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankConfigured {
    pub group: Pubkey,
    pub bank: Pubkey,
    pub oracle: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCreated {
    pub group: Pubkey,
    pub account: Pubkey,
    pub owner: Pubkey,
    pub account_num: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountClosed {
    pub group: Pubkey,
    pub account: Pubkey,
    pub owner: Pubkey,
}

/// A token movement between a user and a bank. `kind`: deposit, withdraw, borrow, repay.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMovement {
    pub group: Pubkey,
    pub account: Pubkey,
    pub bank: Pubkey,
    pub kind: MovementKind,
    /// Native tokens moved.
    pub amount: u64,
    /// For deposits: the part that repaid a borrow first.
    pub repaid: u64,
    /// Q64.64 indices after accrual, so indexers can value positions.
    pub deposit_index: u128,
    pub borrow_index: u128,
    /// Init health after the movement (withdraw/borrow only; 0 otherwise). Inside a flash loan
    /// it is not computed: [`crate::constants::HEALTH_CHECK_DEFERRED`].
    pub init_health_after: i128,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovementKind {
    Deposit,
    Withdraw,
    Borrow,
    Repay,
}

/// One liquidation step.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liquidation {
    pub group: Pubkey,
    pub liquidator: Pubkey,
    pub liquidatee: Pubkey,
    pub liab_bank: Pubkey,
    pub asset_bank: Pubkey,
    /// Debt taken over (native units of the liability bank).
    pub liab_amount: u64,
    /// Collateral to the liquidator and to the asset bank's insurance fund (native units).
    pub asset_to_liquidator: u64,
    pub asset_to_insurance: u64,
    /// Prices used (Q64.64 quote native per native token): liability price of the liability
    /// bank, asset price of the asset bank.
    pub liab_price: u128,
    pub asset_price: u128,
    pub maint_health_before: i128,
    pub maint_health_after: i128,
    pub end_target_after: i128,
    /// Still flagged as being liquidated (below the end target) after this step.
    pub still_being_liquidated: bool,
    /// Left bankrupt: only dust deposits and some borrows.
    pub bankrupt: bool,
    /// [`crate::constants::HEALTH_CHECK_DEFERRED`] when the liquidator is inside a flash loan.
    pub liquidator_init_health_after: i128,
}

/// A bankrupt account's debt in one bank written off.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankruptcyResolved {
    pub group: Pubkey,
    pub account: Pubkey,
    pub liab_bank: Pubkey,
    /// Debt written off (native units of the bank).
    pub debt: u64,
    /// Paid by the bank's insurance fund.
    pub from_insurance: u64,
    /// Shared out over the bank's depositors through the deposit index.
    pub socialized: u64,
    pub deposit_index_before: u128,
    pub deposit_index_after: u128,
    pub insurance_after: u64,
    /// The account's deposits at their asset prices (below the dust threshold).
    pub deposits_value: u64,
    /// Debt remains in other banks.
    pub still_bankrupt: bool,
}

/// A write-off took the account's leftover deposit in `bank` into that bank's insurance fund:
/// the owner keeps nothing the write-off paid for.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollateralSeized {
    pub group: Pubkey,
    pub account: Pubkey,
    pub bank: Pubkey,
    /// Native tokens moved from the deposit to the insurance fund.
    pub native: u64,
    pub insurance_after: u64,
}

/// The admin topped up a bank's insurance fund.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsuranceFunded {
    pub group: Pubkey,
    pub bank: Pubkey,
    pub amount: u64,
    pub insurance_after: u64,
}

/// The admin proposed a new admin (`proposed_admin` default = a proposal withdrawn).
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTransferProposed {
    pub group: Pubkey,
    pub admin: Pubkey,
    pub proposed_admin: Pubkey,
}

/// The proposed admin accepted: it is now the group's admin.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTransferred {
    pub group: Pubkey,
    pub previous_admin: Pubkey,
    pub new_admin: Pubkey,
}

/// A bank configuration change was queued: from `apply_after_ts` anyone may apply it.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankConfigChangeQueued {
    pub group: Pubkey,
    pub bank: Pubkey,
    pub oracle: Pubkey,
    pub config: crate::state::BankConfig,
    pub apply_after_ts: i64,
}

/// A queued bank change took effect (a `BankConfigured` event follows).
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankConfigChangeApplied {
    pub group: Pubkey,
    pub bank: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankConfigChangeCancelled {
    pub group: Pubkey,
    pub bank: Pubkey,
}

/// A group configuration change was queued (zero fields of `change` stay as they are).
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfigChangeQueued {
    pub group: Pubkey,
    pub change: crate::state::PendingGroupChange,
}

/// A queued group change took effect (a `GroupConfigured` event follows).
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfigChangeApplied {
    pub group: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfigChangeCancelled {
    pub group: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpMarketAdded {
    pub group: Pubkey,
    pub perp_market: Pubkey,
    pub market_index: u16,
    pub oracle: Pubkey,
    pub settle_bank: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpMarketConfigured {
    pub group: Pubkey,
    pub perp_market: Pubkey,
    pub oracle: Pubkey,
    pub config: crate::state::PerpMarketConfig,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpMarketChangeQueued {
    pub group: Pubkey,
    pub perp_market: Pubkey,
    pub oracle: Pubkey,
    pub config: crate::state::PerpMarketConfig,
    pub apply_after_ts: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpMarketChangeCancelled {
    pub group: Pubkey,
    pub perp_market: Pubkey,
}

/// A `place_perp_order` fill, with the market's state after it.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpFill {
    pub group: Pubkey,
    pub account: Pubkey,
    pub perp_market: Pubkey,
    /// Signed lots (+ bought).
    pub trade_lots: i64,
    pub base_lots_after: i64,
    /// The oracle price filled at, Q64.64 settle native per base native.
    pub oracle_price: u128,
    /// Average price with the fee, rounded against the trader.
    pub average_price: u128,
    pub fee_bps: u32,
    pub fee: u64,
    /// Funding applied to the position before the fill (+ paid by it).
    pub funding_paid: i64,
    pub long_lots: u64,
    pub short_lots: u64,
    pub funding_long: i128,
    pub funding_short: i128,
    /// Init health after, when the fill needed it (0 otherwise).
    pub init_health_after: i128,
}

/// A `settle_pnl`: `amount` (+ paid by the pool) moved between the pool's deposit and the
/// account's settle-bank position.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PnlSettled {
    pub group: Pubkey,
    pub account: Pubkey,
    pub perp_market: Pubkey,
    pub amount: i64,
    pub funding_paid: i64,
    /// The account's settle-bank balance change (native, after share rounding).
    pub balance_change: i128,
    pub pool_deposit_shares: u64,
}

/// An LP deposit (`amount` > 0 from the account's settle deposit into the pool) or withdrawal.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMovement {
    pub group: Pubkey,
    pub account: Pubkey,
    pub perp_market: Pubkey,
    pub deposit: bool,
    pub amount: u64,
    pub lp_shares: u64,
    pub lp_shares_total: u64,
    pub pool_deposit_shares: u64,
}

/// One `liquidate_perp` step: the liquidatee's position closed against the pool at the oracle
/// price, the fees paid from the pool's deposit.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpLiquidation {
    pub group: Pubkey,
    pub liquidator: Pubkey,
    pub liquidatee: Pubkey,
    pub perp_market: Pubkey,
    pub base_lots_before: i64,
    pub base_lots_after: i64,
    /// Q64.64 settle native units per base native unit.
    pub oracle_price: u128,
    /// What the fill paid the position before fees (settle native units).
    pub quote_change: i64,
    /// To the liquidator's settle-bank position.
    pub liquidation_fee: u64,
    /// To the market's insurance fund.
    pub insurance_fee: u64,
    pub maint_health_before: i128,
    pub maint_health_after: i128,
    pub end_target_after: i128,
    pub still_being_liquidated: bool,
    pub bankrupt: bool,
    pub long_lots_after: u64,
    pub short_lots_after: u64,
}

/// A bankrupt account's perp loss written off (`resolve_perp_bankruptcy`).
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpBankruptcyResolved {
    pub group: Pubkey,
    pub account: Pubkey,
    pub perp_market: Pubkey,
    pub loss: u64,
    pub from_collateral: u64,
    pub from_insurance: u64,
    /// Borne by the pool's LPs.
    pub socialised: u64,
    pub insurance_shares_after: u64,
    pub socialised_loss_total: u64,
}

/// The admin topped up a perp market's insurance fund.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerpInsuranceFunded {
    pub group: Pubkey,
    pub perp_market: Pubkey,
    pub amount: u64,
    pub insurance_shares_after: u64,
}

/// A flash loan opened (`flash_loan_begin`): the account's health checks wait for the end.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashLoanBegun {
    pub group: Pubkey,
    pub account: Pubkey,
    pub owner: Pubkey,
    /// Indices of the begin and its end among the transaction's instructions.
    pub begin_index: u16,
    pub end_index: u16,
}

/// A flash loan closed (`flash_loan_end`) with the account's init health at the end.
#[event]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashLoanEnded {
    pub group: Pubkey,
    pub account: Pubkey,
    pub init_health: i128,
}
