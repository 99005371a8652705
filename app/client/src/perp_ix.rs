//! Instruction builders for perp markets, their pools and perp positions, and the health
//! accounts of an account holding perp slots.

use anchor_lang::prelude::{AccountMeta, Pubkey};
use anchor_lang::system_program;
use solana_instruction::Instruction;

use cross_margin::perp::PerpOrder;
use cross_margin::state::{MarginAccount, PerpMarket, PerpMarketConfig};

use crate::ix::{build, build_with, health_accounts, BankRef};

/// The addresses a client needs to use one perp market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpMarketRef {
    pub address: Pubkey,
    pub index: u16,
    pub oracle: Pubkey,
    pub settle_bank: BankRef,
}

impl PerpMarketRef {
    /// Reads the addresses out of a decoded market; `settle_bank` is its settle bank's.
    pub fn from_market(address: Pubkey, market: &PerpMarket, settle_bank: BankRef) -> Self {
        Self { address, index: market.market_index, oracle: market.oracle, settle_bank }
    }
}

/// The remaining accounts every health check takes, for an account that may hold perp slots:
/// [`health_accounts`]'s token pairs, then the settle bank's pair if the account holds perp
/// slots but no token position in their settle bank, then `(perp market, oracle)` per active
/// perp slot, in slot order.
pub fn health_accounts_with_perps(
    account: &MarginAccount,
    bank_by_index: impl Fn(u16) -> BankRef,
    perp_by_index: impl Fn(u16) -> PerpMarketRef,
) -> Vec<AccountMeta> {
    let mut metas = health_accounts(account, &bank_by_index);
    if let Some(settle) = account.perp_settle_bank_index() {
        if account.find(settle).is_none() {
            let bank = bank_by_index(settle);
            metas.push(AccountMeta::new_readonly(bank.address, false));
            metas.push(AccountMeta::new_readonly(bank.oracle, false));
        }
    }
    for slot in account.active_perps() {
        let market = perp_by_index(slot.market_index);
        metas.push(AccountMeta::new_readonly(market.address, false));
        metas.push(AccountMeta::new_readonly(market.oracle, false));
    }
    metas
}

/// `add_perp_market`: returns the instruction and the market it creates.
pub fn add_perp_market(
    group: Pubkey,
    admin: Pubkey,
    payer: Pubkey,
    settle_bank: Pubkey,
    oracle: Pubkey,
    market_index: u16,
    config: PerpMarketConfig,
) -> (Instruction, Pubkey) {
    let (perp_market, _) = PerpMarket::address(&group, market_index);
    let ix = build(
        cross_margin::accounts::AddPerpMarket {
            group,
            admin,
            payer,
            settle_bank,
            oracle,
            perp_market,
            system_program: system_program::ID,
        },
        cross_margin::instruction::AddPerpMarket { market_index, config },
    );
    (ix, perp_market)
}

fn configure_accounts(
    group: Pubkey,
    admin: Pubkey,
    perp_market: Pubkey,
    oracle: Pubkey,
) -> cross_margin::accounts::ConfigurePerpMarket {
    cross_margin::accounts::ConfigurePerpMarket { group, admin, perp_market, oracle }
}

pub fn configure_perp_market(
    group: Pubkey,
    admin: Pubkey,
    perp_market: Pubkey,
    oracle: Pubkey,
    config: PerpMarketConfig,
) -> Instruction {
    build(
        configure_accounts(group, admin, perp_market, oracle),
        cross_margin::instruction::ConfigurePerpMarket { config },
    )
}

pub fn queue_perp_market_config(
    group: Pubkey,
    admin: Pubkey,
    perp_market: Pubkey,
    oracle: Pubkey,
    config: PerpMarketConfig,
) -> Instruction {
    build(
        configure_accounts(group, admin, perp_market, oracle),
        cross_margin::instruction::QueuePerpMarketConfig { config },
    )
}

/// `apply_perp_market_config` (permissionless): `oracle` is the queued change's.
pub fn apply_perp_market_config(group: Pubkey, perp_market: Pubkey, oracle: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::ApplyPerpMarketConfig { group, perp_market, oracle },
        cross_margin::instruction::ApplyPerpMarketConfig {},
    )
}

pub fn cancel_perp_market_config(group: Pubkey, admin: Pubkey, perp_market: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::CancelPerpMarketConfig { group, admin, perp_market },
        cross_margin::instruction::CancelPerpMarketConfig {},
    )
}

/// The accounts of `place_perp_order`, `pool_deposit` and `pool_withdraw`.
#[derive(Debug, Clone, Copy)]
pub struct PerpTrade {
    pub group: Pubkey,
    pub account: Pubkey,
    pub owner: Pubkey,
    pub market: PerpMarketRef,
}

impl PerpTrade {
    fn accounts(&self) -> cross_margin::accounts::PerpTrade {
        cross_margin::accounts::PerpTrade {
            group: self.group,
            account: self.account,
            owner: self.owner,
            perp_market: self.market.address,
            oracle: self.market.oracle,
            settle_bank: self.market.settle_bank.address,
        }
    }
}

/// `place_perp_order`; `health`: the account's health accounts with the order's slot as it will
/// be ([`health_accounts_with_perps`] of the account after the fill).
pub fn place_perp_order(
    trade: &PerpTrade,
    order: PerpOrder,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(trade.accounts(), cross_margin::instruction::PlacePerpOrder { order }, health)
}

/// `pool_deposit`; `health` as for [`place_perp_order`] (the account holds the pool's slot).
pub fn pool_deposit(trade: &PerpTrade, amount: u64, health: Vec<AccountMeta>) -> Instruction {
    build_with(trade.accounts(), cross_margin::instruction::PoolDeposit { amount }, health)
}

pub fn pool_withdraw(trade: &PerpTrade, lp_shares: u64) -> Instruction {
    build(trade.accounts(), cross_margin::instruction::PoolWithdraw { lp_shares })
}

/// The accounts of `settle_pnl` and `resolve_perp_bankruptcy` on `account` in `market`.
fn keeper_accounts(
    group: Pubkey,
    account: Pubkey,
    market: &PerpMarketRef,
) -> cross_margin::accounts::PerpKeeper {
    cross_margin::accounts::PerpKeeper {
        group,
        account,
        perp_market: market.address,
        oracle: market.oracle,
        settle_bank: market.settle_bank.address,
    }
}

/// `settle_pnl` (permissionless); `health`: the account's health accounts
/// ([`health_accounts_with_perps`]), which let a loss beyond its settle deposit become a borrow
/// up to its equity; empty, only the deposit pays.
pub fn settle_pnl(
    group: Pubkey,
    account: Pubkey,
    market: &PerpMarketRef,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        keeper_accounts(group, account, market),
        cross_margin::instruction::SettlePnl {},
        health,
    )
}

/// `liquidate_perp`: the `owner`'s `liquidator` account closes up to `max_base_lots` of the
/// `liquidatee`'s position in `market`; `health`: the liquidatee's health accounts.
pub fn liquidate_perp(
    group: Pubkey,
    liquidator: Pubkey,
    owner: Pubkey,
    liquidatee: Pubkey,
    market: &PerpMarketRef,
    max_base_lots: u64,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        cross_margin::accounts::LiquidatePerp {
            group,
            liquidator,
            owner,
            liquidatee,
            perp_market: market.address,
            oracle: market.oracle,
            settle_bank: market.settle_bank.address,
        },
        cross_margin::instruction::LiquidatePerp { max_base_lots },
        health,
    )
}

/// `resolve_perp_bankruptcy` (permissionless); `health`: the account's health accounts.
pub fn resolve_perp_bankruptcy(
    group: Pubkey,
    account: Pubkey,
    market: &PerpMarketRef,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        keeper_accounts(group, account, market),
        cross_margin::instruction::ResolvePerpBankruptcy {},
        health,
    )
}

/// `fund_perp_insurance`: the admin's `source` token account pays `amount` settle tokens.
pub fn fund_perp_insurance(
    group: Pubkey,
    admin: Pubkey,
    market: &PerpMarketRef,
    source: Pubkey,
    amount: u64,
) -> Instruction {
    let bank = &market.settle_bank;
    build(
        cross_margin::accounts::FundPerpInsurance {
            group,
            admin,
            perp_market: market.address,
            settle_bank: bank.address,
            vault: bank.vault,
            mint: bank.mint,
            source,
            token_program: bank.token_program,
        },
        cross_margin::instruction::FundPerpInsurance { amount },
    )
}

/// The account as it will be once an order for `market` opens its slot (if not open yet):
/// what [`health_accounts_with_perps`] needs to list the pair before the fill.
pub fn account_with_perp_slot(account: &MarginAccount, market: &PerpMarketRef) -> MarginAccount {
    let mut after = *account;
    let funding = Default::default();
    // An error (no free slot, another settle bank) is the program's to report.
    let _ = after.find_or_open_perp(market.index, market.settle_bank.index, &funding);
    after
}
