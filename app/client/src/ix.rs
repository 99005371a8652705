//! Instruction builders. Account lists and argument encoding come from the program crate
//! (`cross_margin::accounts::*` and `cross_margin::instruction::*`), so they cannot drift from it.

use anchor_lang::prelude::{AccountMeta, Instructions, Pubkey};
use anchor_lang::solana_program::sysvar::SysvarId;
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use solana_instruction::Instruction;

use cross_margin::state::GroupConfigOptions;
use cross_margin::state::{Bank, BankConfig, Group, MarginAccount};

pub(crate) fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    build_with(accounts, data, Vec::new())
}

pub(crate) fn build_with(
    accounts: impl ToAccountMetas,
    data: impl InstructionData,
    remaining: Vec<AccountMeta>,
) -> Instruction {
    let mut metas = accounts.to_account_metas(None);
    metas.extend(remaining);
    Instruction { program_id: cross_margin::ID, accounts: metas, data: data.data() }
}

/// The addresses a client needs to use one bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankRef {
    pub address: Pubkey,
    pub index: u16,
    pub mint: Pubkey,
    pub vault: Pubkey,
    pub oracle: Pubkey,
    pub token_program: Pubkey,
}

impl BankRef {
    /// Reads the addresses out of a decoded bank.
    pub fn from_bank(address: Pubkey, bank: &Bank) -> Self {
        Self {
            address,
            index: bank.bank_index,
            mint: bank.mint,
            vault: bank.vault,
            oracle: bank.oracle,
            token_program: bank.token_program,
        }
    }

    /// As [`BankRef::from_bank`], with the oracle the bank's queued change pins (if any): the
    /// pairs `health_after_pending_changes` takes.
    pub fn after_pending_change(address: Pubkey, bank: &Bank) -> Self {
        Self::from_bank(address, &bank.with_pending_change())
    }
}

/// `(bank, oracle)` read-only metas for every active position of `account`, in slot order:
/// the remaining accounts of `withdraw`, `borrow` and `health`.
pub fn health_accounts(
    account: &MarginAccount,
    bank_by_index: impl Fn(u16) -> BankRef,
) -> Vec<AccountMeta> {
    position_accounts(account, bank_by_index, false)
}

/// The remaining accounts of `resolve_bankruptcy`: [`health_accounts`] with the deposits' banks
/// writable, since a write-off moves the account's leftover deposits into their banks'
/// insurance funds.
pub fn write_off_accounts(
    account: &MarginAccount,
    bank_by_index: impl Fn(u16) -> BankRef,
) -> Vec<AccountMeta> {
    position_accounts(account, bank_by_index, true)
}

/// `(bank, oracle)` for every active position, in slot order; oracles read-only, banks too
/// unless `deposit_banks_writable` and the position is a deposit.
fn position_accounts(
    account: &MarginAccount,
    bank_by_index: impl Fn(u16) -> BankRef,
    deposit_banks_writable: bool,
) -> Vec<AccountMeta> {
    account
        .active_positions()
        .flat_map(|p| {
            let bank = bank_by_index(p.bank_index);
            let deposit =
                matches!(p.shares(), Some(cross_margin::health::PositionShares::Deposit(_)));
            let bank_meta = if deposit_banks_writable && deposit {
                AccountMeta::new(bank.address, false)
            } else {
                AccountMeta::new_readonly(bank.address, false)
            };
            [bank_meta, AccountMeta::new_readonly(bank.oracle, false)]
        })
        .collect()
}

/// `create_group`: returns the instruction and the group address it creates.
pub fn create_group(
    admin: Pubkey,
    payer: Pubkey,
    group_num: u32,
    pyth_receiver_program: Pubkey,
    pyth_legacy_program: Pubkey,
) -> (Instruction, Pubkey) {
    let (group, _) = Group::address(&admin, group_num);
    let ix = build(
        cross_margin::accounts::CreateGroup {
            group,
            admin,
            payer,
            system_program: system_program::ID,
        },
        cross_margin::instruction::CreateGroup {
            group_num,
            pyth_receiver_program,
            pyth_legacy_program,
        },
    );
    (ix, group)
}

/// `configure_group`: the `Some` fields of `options` are the settings to change.
pub fn configure_group(group: Pubkey, admin: Pubkey, options: GroupConfigOptions) -> Instruction {
    build(
        cross_margin::accounts::ConfigureGroup { group, admin },
        cross_margin::instruction::ConfigureGroup { options },
    )
}

/// `add_bank`: returns the instruction and the bank it creates.
pub fn add_bank(
    group: Pubkey,
    admin: Pubkey,
    payer: Pubkey,
    mint: Pubkey,
    token_program: Pubkey,
    oracle: Pubkey,
    config: BankConfig,
) -> (Instruction, Pubkey, Pubkey) {
    let (bank, _) = Bank::address(&group, &mint);
    let (vault, _) = Bank::vault_address(&bank);
    let ix = build(
        cross_margin::accounts::AddBank {
            group,
            admin,
            payer,
            mint,
            bank,
            vault,
            oracle,
            token_program,
            system_program: system_program::ID,
        },
        cross_margin::instruction::AddBank { config },
    );
    (ix, bank, vault)
}

pub fn configure_bank(
    group: Pubkey,
    admin: Pubkey,
    bank: Pubkey,
    oracle: Pubkey,
    config: BankConfig,
) -> Instruction {
    build(
        cross_margin::accounts::ConfigureBank { group, admin, bank, oracle },
        cross_margin::instruction::ConfigureBank { config },
    )
}

/// `queue_bank_config`: the change waits for the group's delay.
pub fn queue_bank_config(
    group: Pubkey,
    admin: Pubkey,
    bank: Pubkey,
    oracle: Pubkey,
    config: BankConfig,
) -> Instruction {
    build(
        cross_margin::accounts::ConfigureBank { group, admin, bank, oracle },
        cross_margin::instruction::QueueBankConfig { config },
    )
}

/// `apply_bank_config` (anyone): `oracle` is the queued change's.
pub fn apply_bank_config(group: Pubkey, bank: Pubkey, oracle: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::ApplyBankConfig { group, bank, oracle },
        cross_margin::instruction::ApplyBankConfig {},
    )
}

pub fn cancel_bank_config(group: Pubkey, admin: Pubkey, bank: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::CancelBankConfig { group, admin, bank },
        cross_margin::instruction::CancelBankConfig {},
    )
}

pub fn queue_group_config(
    group: Pubkey,
    admin: Pubkey,
    options: GroupConfigOptions,
) -> Instruction {
    build(
        cross_margin::accounts::ConfigureGroup { group, admin },
        cross_margin::instruction::QueueGroupConfig { options },
    )
}

/// `apply_group_config` (anyone).
pub fn apply_group_config(group: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::ApplyGroupConfig { group },
        cross_margin::instruction::ApplyGroupConfig {},
    )
}

pub fn cancel_group_config(group: Pubkey, admin: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::ConfigureGroup { group, admin },
        cross_margin::instruction::CancelGroupConfig {},
    )
}

/// `propose_admin`: `Pubkey::default()` withdraws a proposal.
pub fn propose_admin(group: Pubkey, admin: Pubkey, new_admin: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::ConfigureGroup { group, admin },
        cross_margin::instruction::ProposeAdmin { new_admin },
    )
}

pub fn accept_admin(group: Pubkey, new_admin: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::AcceptAdmin { group, new_admin },
        cross_margin::instruction::AcceptAdmin {},
    )
}

/// `halt`: the admin or the emergency admin signs as `authority`.
pub fn halt(group: Pubkey, authority: Pubkey, pause: bool, reduce_only: bool) -> Instruction {
    build(
        cross_margin::accounts::Halt { group, authority },
        cross_margin::instruction::Halt { pause, reduce_only },
    )
}

/// `create_account`: returns the instruction and the margin account it creates.
pub fn create_account(
    group: Pubkey,
    owner: Pubkey,
    payer: Pubkey,
    account_num: u32,
) -> (Instruction, Pubkey) {
    let (account, _) = MarginAccount::address(&group, &owner, account_num);
    let ix = build(
        cross_margin::accounts::CreateAccount {
            group,
            account,
            owner,
            payer,
            system_program: system_program::ID,
        },
        cross_margin::instruction::CreateAccount { account_num },
    );
    (ix, account)
}

/// The accounts of deposit / withdraw / borrow / repay.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    pub group: Pubkey,
    pub account: Pubkey,
    pub owner: Pubkey,
    pub bank: BankRef,
    /// The owner's token account for the bank's mint.
    pub user_token: Pubkey,
}

impl Transfer {
    fn accounts(&self) -> cross_margin::accounts::BankTransfer {
        cross_margin::accounts::BankTransfer {
            group: self.group,
            account: self.account,
            owner: self.owner,
            bank: self.bank.address,
            vault: self.bank.vault,
            mint: self.bank.mint,
            user_token: self.user_token,
            token_program: self.bank.token_program,
        }
    }
}

pub fn deposit(transfer: &Transfer, amount: u64) -> Instruction {
    build(transfer.accounts(), cross_margin::instruction::Deposit { amount })
}

pub fn repay(transfer: &Transfer, amount: u64) -> Instruction {
    build(transfer.accounts(), cross_margin::instruction::Repay { amount })
}

/// `withdraw`; `health` are the `(bank, oracle)` metas of the account's positions *after* it.
pub fn withdraw(transfer: &Transfer, amount: u64, health: Vec<AccountMeta>) -> Instruction {
    build_with(transfer.accounts(), cross_margin::instruction::Withdraw { amount }, health)
}

/// `borrow`; `health` are the `(bank, oracle)` metas of the account's positions *after* it.
pub fn borrow(transfer: &Transfer, amount: u64, health: Vec<AccountMeta>) -> Instruction {
    build_with(transfer.accounts(), cross_margin::instruction::Borrow { amount }, health)
}

/// `liquidate`: `liquidatee_health` are the liquidatee's `(bank, oracle)` metas for its
/// positions *before* the liquidation, `liquidator_health` the liquidator's *after* it.
#[allow(clippy::too_many_arguments)]
pub fn liquidate(
    group: Pubkey,
    liquidator: Pubkey,
    owner: Pubkey,
    liquidatee: Pubkey,
    liab_bank: Pubkey,
    asset_bank: Pubkey,
    max_liab_amount: u64,
    liquidatee_health: Vec<AccountMeta>,
    liquidator_health: Vec<AccountMeta>,
) -> Instruction {
    let liquidatee_pairs = (liquidatee_health.len() / 2) as u8;
    let mut remaining = liquidatee_health;
    remaining.extend(liquidator_health);
    build_with(
        cross_margin::accounts::Liquidate {
            group,
            liquidator,
            owner,
            liquidatee,
            liab_bank,
            asset_bank,
        },
        cross_margin::instruction::Liquidate { max_liab_amount, liquidatee_pairs },
        remaining,
    )
}

/// The liquidator's account as it will be after taking over `liab` of debt in `liab_bank` and
/// receiving `asset` in `asset_bank` at unix time `now` (the program's own position maths, after
/// the interest accrual the program does first).
pub fn liquidator_after(
    account: &MarginAccount,
    liab_bank: &Bank,
    liab: u64,
    asset_bank: &Bank,
    asset: u64,
    now: i64,
) -> MarginAccount {
    let (mut account, mut liab_bank, mut asset_bank) = (*account, *liab_bank, *asset_bank);
    let _ = liab_bank.accrue_interest(now);
    let _ = asset_bank.accrue_interest(now);
    let _ = cross_margin::positions::assume_debt(&mut account, &mut liab_bank, liab);
    let _ = cross_margin::positions::deposit(&mut account, &mut asset_bank, asset);
    account
}

/// `resolve_bankruptcy`: `health` are the account's `(bank, oracle)` metas for its positions
/// before the write-off, from [`write_off_accounts`].
pub fn resolve_bankruptcy(
    group: Pubkey,
    account: Pubkey,
    liab_bank: Pubkey,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        cross_margin::accounts::ResolveBankruptcy { group, account, liab_bank },
        cross_margin::instruction::ResolveBankruptcy {},
        health,
    )
}

/// `fund_insurance`: the admin tops up `bank`'s insurance fund from `source`.
pub fn fund_insurance(
    group: Pubkey,
    admin: Pubkey,
    bank: &BankRef,
    source: Pubkey,
    amount: u64,
) -> Instruction {
    build(
        cross_margin::accounts::FundInsurance {
            group,
            admin,
            bank: bank.address,
            vault: bank.vault,
            mint: bank.mint,
            source,
            token_program: bank.token_program,
        },
        cross_margin::instruction::FundInsurance { amount },
    )
}

pub fn close_account(account: Pubkey, owner: Pubkey) -> Instruction {
    close_account_burning(account, owner, &[])
}

/// `close_account` for an account whose only positions left are deposits worth zero native
/// units: `banks` are their banks, in slot order (writable); the program burns those shares.
pub fn close_account_burning(account: Pubkey, owner: Pubkey, banks: &[Pubkey]) -> Instruction {
    build_with(
        cross_margin::accounts::CloseAccount { account, owner },
        cross_margin::instruction::CloseAccount {},
        banks.iter().map(|bank| AccountMeta::new(*bank, false)).collect(),
    )
}

/// `flash_loan_begin`: opens a flash loan on `account`; the transaction must hold its
/// [`flash_loan_end`] later, top level.
pub fn flash_loan_begin(account: Pubkey, owner: Pubkey) -> Instruction {
    build(
        cross_margin::accounts::FlashLoanBegin {
            account,
            owner,
            instructions: <Instructions as SysvarId>::id(),
        },
        cross_margin::instruction::FlashLoanBegin {},
    )
}

/// `flash_loan_end`: `health` are the account's health metas as the bracket leaves it
/// ([`health_accounts`] of the account after the bracket).
pub fn flash_loan_end(
    group: Pubkey,
    account: Pubkey,
    owner: Pubkey,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        cross_margin::accounts::FlashLoanEnd { group, account, owner },
        cross_margin::instruction::FlashLoanEnd {},
        health,
    )
}

/// The read-only `health` view; decode its return data as `AccountHealth`.
pub fn health(group: Pubkey, account: Pubkey, health: Vec<AccountMeta>) -> Instruction {
    build_with(
        cross_margin::accounts::HealthView { group, account },
        cross_margin::instruction::Health {},
        health,
    )
}

/// `health_under_shock`: `health`'s accounts, and the price shocks (bps per bank index and per
/// perp market index); decode its return data as `AccountHealth`.
pub fn health_under_shock(
    group: Pubkey,
    account: Pubkey,
    health: Vec<AccountMeta>,
    token_shocks: Vec<cross_margin::health::PriceShock>,
    perp_shocks: Vec<cross_margin::health::PriceShock>,
) -> Instruction {
    build_with(
        cross_margin::accounts::HealthView { group, account },
        cross_margin::instruction::HealthUnderShock { token_shocks, perp_shocks },
        health,
    )
}

/// `health_after_pending_changes`: `health`'s accounts, with a bank's queued oracle where its
/// queued change re-pins one ([`BankRef::after_pending_change`]).
pub fn health_after_pending_changes(
    group: Pubkey,
    account: Pubkey,
    health: Vec<AccountMeta>,
) -> Instruction {
    build_with(
        cross_margin::accounts::HealthView { group, account },
        cross_margin::instruction::HealthAfterPendingChanges {},
        health,
    )
}

/// A token movement, for predicting which positions an account has after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Deposit,
    Withdraw,
    Borrow,
    Repay,
}

/// The account as it will be after `movement` at unix time `now` (the program's own share maths
/// after the interest accrual the program does first), so that health accounts can be listed for
/// the positions that will exist. Without the accrual, a whole withdrawal or repayment after
/// interest would be predicted to leave a slot open that the program closes, or the reverse.
pub fn account_after(
    account: &MarginAccount,
    bank: &Bank,
    movement: Movement,
    amount: u64,
    now: i64,
) -> MarginAccount {
    let (mut account, mut bank) = (*account, *bank);
    let _ = bank.accrue_interest(now);
    let _ = match movement {
        Movement::Deposit => {
            cross_margin::positions::deposit(&mut account, &mut bank, amount).map(|_| ())
        }
        Movement::Withdraw => cross_margin::positions::withdraw(&mut account, &mut bank, amount),
        Movement::Borrow => cross_margin::positions::borrow(&mut account, &mut bank, amount),
        Movement::Repay => cross_margin::positions::repay(&mut account, &mut bank, amount),
    };
    account
}
