//! Executing inventory unwinds (`inventory.rs` plans them): after a liquidation lands
//! (`unwind: after`), or around it in one flash-loan transaction (`unwind: flash_loan`).

use cross_margin::state::MarginAccount;
use cross_margin_client::ix::{self, BankRef, Transfer};

use anchor_lang::prelude::AccountMeta;
use cross_margin_client::{Instruction, Pubkey, Signer};

use crate::backend::{Backend, RetryPolicy};
use crate::inventory::UnwindMode;
use crate::inventory::{floor, plan_unwind, Inventory, UnwindError, UnwindInputs, UnwindPlan};
use crate::keeper::{Keeper, LiquidationDone, RoundReport, Skipped};
use crate::keeper_outcome::liquidation_done;
use crate::market::MarketState;
use crate::plan::{init_health_now, LiquidatorCheck, Plan};
use crate::swap::{SwapAccounts, SwapAdapter, SwapError};
use solana_address_lookup_table_interface::state::AddressLookupTable;
use solana_message::AddressLookupTableAccount;

/// One unwind the keeper sent: withdraw, swap, repay (inside a flash-loan liquidation, or on
/// its own after one).
#[derive(Debug, Clone)]
pub struct UnwindDone {
    pub signature: String,
    /// Inside a flash-loan bracket with the liquidation.
    pub flash_loan: bool,
    /// The liquidatee whose liquidation this unwinds.
    pub liquidatee: Pubkey,
    pub plan: UnwindPlan,
    pub compute_units: u64,
}

impl Keeper {
    /// How the liquidator's own health is judged when planning a liquidation: inside a
    /// flash-loan bracket the program skips it (the whole bracket is judged instead), otherwise
    /// it must stay at or above the keeper's floor.
    pub(crate) fn liquidator_check(
        &self,
        market: &MarketState,
        liquidator: &MarginAccount,
    ) -> LiquidatorCheck {
        let inventory = &self.config.inventory;
        if inventory.unwind == UnwindMode::FlashLoan {
            return LiquidatorCheck::Skipped;
        }
        // Unpriced: the planner refuses on its own, with the bank's error.
        let init = init_health_now(market, liquidator).unwrap_or(inventory.health_buffer);
        LiquidatorCheck::AtLeast(floor(inventory.health_buffer, init))
    }

    /// Whether a liquidation may take `asset`'s collateral for `liab`'s debt: in a flash loan,
    /// only if the swap venue can sell the one for the other (the bracket must repay).
    pub(crate) fn pair_allowed(&self, market: &MarketState, liab: u16, asset: u16) -> bool {
        if self.config.inventory.unwind != UnwindMode::FlashLoan {
            return true;
        }
        let mint = |index: u16| market.bank(index).map(|b| b.bank.mint);
        match (self.swap.as_deref(), mint(asset), mint(liab)) {
            (Some(adapter), Some(in_mint), Some(out_mint)) => {
                adapter.has_route(&in_mint, &out_mint)
            }
            _ => false,
        }
    }

    fn adapter(&self) -> Result<&(dyn SwapAdapter + Send + Sync), UnwindError> {
        self.swap.as_deref().ok_or(UnwindError::NoAdapter)
    }

    /// Plans an unwind of `inventory` from `account` (the keeper's account as it starts).
    fn plan_unwind_of(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        account: &MarginAccount,
        inventory: Inventory,
        floor: i128,
        in_bracket: bool,
    ) -> Result<UnwindPlan, UnwindError> {
        let adapter = self.adapter()?;
        let mint = |index: u16| {
            market
                .bank(index)
                .map(|b| b.bank.mint)
                .ok_or_else(|| UnwindError::Refused(format!("bank {index} is not in the market")))
        };
        let (in_mint, out_mint) = (mint(inventory.asset_bank)?, mint(inventory.liab_bank)?);
        let config = &self.config.inventory;
        let inputs = UnwindInputs {
            market,
            account,
            inventory,
            floor,
            withdrawal_judged: !in_bracket,
            landing_lag_secs: config.landing_lag_secs,
            slippage_bps: config.slippage_bps,
        };
        plan_unwind(&inputs, &mut |amount| adapter.quote(backend, &in_mint, &out_mint, amount))
    }

    /// The unwind's instructions: withdraw the collateral to the wallet, swap it, repay; and
    /// the lookup tables the swap needs (read from the chain). Inside a bracket the withdrawal
    /// needs no health accounts (the program skips its check).
    fn unwind_instructions(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        plan: &UnwindPlan,
        in_bracket: bool,
    ) -> Result<Unwind, UnwindError> {
        let adapter = self.adapter()?;
        let bank = |index: u16| {
            market
                .bank_ref(index)
                .ok_or_else(|| UnwindError::Refused(format!("bank {index} is not in the market")))
        };
        let (asset, liab) = (bank(plan.inventory.asset_bank)?, bank(plan.inventory.liab_bank)?);
        let owner = self.signer.pubkey();
        let wallet = |bank: &BankRef| {
            self.config.inventory.token_account(&owner, &bank.mint, &bank.token_program)
        };
        let transfer = |bank: BankRef| Transfer {
            group: self.config.group,
            account: self.config.liquidator_account,
            owner,
            bank,
            user_token: wallet(&bank),
        };
        let withdraw_health = match in_bracket {
            true => Vec::new(),
            false => health_accounts(market, &plan.account_after_withdraw)?,
        };
        let mut instructions = vec![ix::withdraw(&transfer(asset), plan.withdraw, withdraw_health)];
        let accounts = SwapAccounts { owner, source: wallet(&asset), destination: wallet(&liab) };
        let swap = adapter.swap_instructions(&plan.quote, &accounts, plan.min_out)?;
        let tables = load_lookup_tables(backend, &swap.lookup_tables, self.config.retry)?;
        instructions.extend(swap.all());
        instructions.push(ix::repay(&transfer(liab), plan.repay));
        Ok(Unwind { instructions, tables })
    }

    /// `unwind: after`: once a liquidation has landed, unwind what it left in transactions of
    /// their own (each one's withdrawal judged by the program with the debt still open, so
    /// each frees health for the next).
    pub(crate) fn unwind_after(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        liquidatee: Pubkey,
        mut inventory: Inventory,
        report: &mut RoundReport,
    ) -> anyhow::Result<()> {
        let keeper_account = self.config.liquidator_account;
        for _ in 0..self.config.inventory.max_unwind_steps {
            let market = self.refresh_market(backend, market)?;
            let account = self.fetch_margin_account(backend, &keeper_account)?;
            let init = init_health_now(&market, &account).unwrap_or(0);
            let floor = floor(self.config.inventory.health_buffer, init);
            let planned =
                self.plan_unwind_of(backend, &market, &account, inventory, floor, false).and_then(
                    |plan| Ok((plan, self.unwind_instructions(backend, &market, &plan, false)?)),
                );
            let (plan, unwind) = match planned {
                Ok(planned) => planned,
                Err(UnwindError::NothingToUnwind) => return Ok(()),
                Err(reason) => {
                    tracing::warn!(account = %keeper_account, %reason, "not unwinding");
                    let reason = format!("unwind: {reason}");
                    report.skipped.push(Skipped::NoPlan { account: keeper_account, reason });
                    return Ok(());
                }
            };
            match self.send_all(backend, keeper_account, &unwind.instructions, &unwind.tables)? {
                Ok((landed, _)) => {
                    tracing::info!(
                        withdrawn = plan.withdraw,
                        min_out = plan.min_out,
                        repaid = plan.repay,
                        init_after = plan.init_after as i64,
                        "unwound"
                    );
                    report.unwinds.push(UnwindDone {
                        signature: landed.signature,
                        flash_loan: false,
                        liquidatee,
                        plan,
                        compute_units: landed.compute_units,
                    });
                    inventory.collateral -= plan.withdraw.min(inventory.collateral);
                    inventory.debt -= plan.repay.min(inventory.debt);
                }
                Err(skipped) => {
                    report.skipped.push(skipped);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// `unwind: flash_loan`: one transaction, `flash_loan_begin`, liquidate (only the
    /// liquidatee's health accounts: the liquidator's check is skipped inside the bracket),
    /// withdraw, swap, repay, `flash_loan_end` with the account's health accounts as the
    /// bracket leaves it. The keeper judges the whole bracket against its floor first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn execute_flash_liquidation(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        liquidatee_key: Pubkey,
        liquidatee: &MarginAccount,
        liquidator: &MarginAccount,
        plan: &Plan,
        report: &mut RoundReport,
    ) -> anyhow::Result<Result<LiquidationDone, Skipped>> {
        let keeper_account = self.config.liquidator_account;
        let init = init_health_now(market, liquidator).unwrap_or(0);
        let floor = floor(self.config.inventory.health_buffer, init);
        let inventory = Inventory {
            liab_bank: plan.liab_bank,
            asset_bank: plan.asset_bank,
            collateral: plan.amounts.asset_to_liquidator,
            debt: plan.amounts.liab,
        };
        let planned = self
            .plan_unwind_of(backend, market, &plan.liquidator_after, inventory, floor, true)
            .and_then(|unwind| {
                Ok((unwind, self.unwind_instructions(backend, market, &unwind, true)?))
            });
        let (unwind, Unwind { instructions: unwind_instructions, tables }) = match planned {
            Ok(planned) => planned,
            Err(reason) => {
                tracing::warn!(liquidatee = %liquidatee_key, %reason, "no flash-loan liquidation");
                let reason = format!("flash-loan unwind: {reason}");
                return Ok(Err(Skipped::NoPlan { account: liquidatee_key, reason }));
            }
        };
        let missing = |index: u16| anyhow::anyhow!("bank {index} is not in the market");
        let liab_bank = market.bank_ref(plan.liab_bank).ok_or_else(|| missing(plan.liab_bank))?;
        let asset_bank =
            market.bank_ref(plan.asset_bank).ok_or_else(|| missing(plan.asset_bank))?;
        let (liquidatee_health, end_health) = match (
            health_accounts(market, liquidatee),
            health_accounts(market, &unwind.account_after),
        ) {
            (Ok(before), Ok(after)) => (before, after),
            (Err(reason), _) | (_, Err(reason)) => {
                let reason = format!("flash-loan liquidation: {reason}");
                return Ok(Err(Skipped::NoPlan { account: liquidatee_key, reason }));
            }
        };
        let owner = self.signer.pubkey();
        let liquidate = ix::liquidate(
            self.config.group,
            keeper_account,
            owner,
            liquidatee_key,
            liab_bank.address,
            asset_bank.address,
            plan.max_liab_amount,
            liquidatee_health,
            Vec::new(),
        );
        let mut instructions = vec![ix::flash_loan_begin(keeper_account, owner), liquidate];
        instructions.extend(unwind_instructions);
        instructions.push(ix::flash_loan_end(self.config.group, keeper_account, owner, end_health));
        let sent = match self.send_all(backend, liquidatee_key, &instructions, &tables)? {
            Ok(sent) => sent,
            Err(skipped) => return Ok(Err(skipped)),
        };
        let done = liquidation_done(sent)?;
        report.unwinds.push(UnwindDone {
            signature: done.signature.clone(),
            flash_loan: true,
            liquidatee: liquidatee_key,
            plan: unwind,
            compute_units: done.compute_units,
        });
        Ok(Ok(done))
    }
}

/// `(bank, oracle)` for each of `account`'s positions, or which bank the market lacks.
fn health_accounts(
    market: &MarketState,
    account: &MarginAccount,
) -> Result<Vec<AccountMeta>, UnwindError> {
    let mut banks = Vec::new();
    for position in account.active_positions() {
        let index = position.bank_index;
        let bank = market
            .bank_ref(index)
            .ok_or_else(|| UnwindError::Refused(format!("bank {index} is not in the market")))?;
        banks.push(bank);
    }
    let Some(&first) = banks.first() else { return Ok(Vec::new()) };
    let by_index = |i: u16| banks.iter().copied().find(|b| b.index == i).unwrap_or(first);
    Ok(ix::health_accounts(account, by_index))
}

/// An unwind's instructions and the lookup tables its swap needs.
struct Unwind {
    instructions: Vec<Instruction>,
    tables: Vec<AddressLookupTableAccount>,
}

/// The address lookup tables `keys`, read from the chain (a swap route's, e.g. Jupiter's
/// `addressLookupTableAddresses`).
pub fn load_lookup_tables(
    backend: &mut dyn Backend,
    keys: &[Pubkey],
    retry: RetryPolicy,
) -> Result<Vec<AddressLookupTableAccount>, UnwindError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let raw = retry
        .run("lookup tables", || backend.multiple_accounts(keys))
        .map_err(|e| UnwindError::Swap(SwapError::Backend(e)))?;
    keys.iter()
        .zip(raw)
        .map(|(key, account)| {
            let bad = |why: String| UnwindError::Refused(format!("lookup table {key}: {why}"));
            let account = account.ok_or_else(|| bad("not found".into()))?;
            let table = AddressLookupTable::deserialize(&account.data)
                .map_err(|e| bad(format!("{e:?}")))?;
            Ok(AddressLookupTableAccount { key: *key, addresses: table.addresses.to_vec() })
        })
        .collect()
}
