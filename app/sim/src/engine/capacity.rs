//! The liquidation-capacity table from the chain's current state. For each collateral bank and
//! shock: the program's `health_under_shock` view (by simulation) says which accounts holding
//! that collateral with debt would be liquidatable; for each of them the keeper's planner
//! (`plan::plan_liquidation_with`, the program's `liquidation::step` on copies) is run step
//! after step on a copy of the market whose price for that bank is shocked the way the program
//! shocks it (`health::shock::shock_price` on every price side), until the account is back at
//! its end target; the collateral those steps take is summed (`capacity::aggregate`). An
//! account the program would write off instead (`AccountBankrupt`: insolvent with collateral
//! below the dust threshold, at once or after its collateral is exhausted) adds what it still
//! owes, at the shocked prices, to the debt written off.

use std::collections::{BTreeSet, HashMap};

use anyhow::{anyhow, Result};
use cross_margin::error::MarginError;
use cross_margin::health::shock::shock_price;
use cross_margin::health::{PositionShares, PriceShock};
use cross_margin::math::{Round, QUOTE_DECIMALS};
use cross_margin::oracle::OraclePrice;
use cross_margin::state::MarginAccount;
use cross_margin_client::Pubkey;
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::evaluate::assess;
use cross_margin_keeper::keeper::Discovered;
use cross_margin_keeper::plan::{plan_liquidation_with, LiquidatorCheck, NoPlan};
use cross_margin_keeper::MarketState;

use super::Engine;
use crate::capacity::{absorb, aggregate, describe, AccountUnderShock, CapacityRow};

/// More steps than any liquidation of one account takes; a guard, not a model parameter.
const MAX_STEPS: usize = 64;

/// Every price side of `price` moved by `bps`, rounded as the program's shock view rounds them.
fn shocked(price: OraclePrice, bps: i32) -> OraclePrice {
    let side = |p: u128, round: Round| shock_price(p, bps, round).unwrap_or(p);
    OraclePrice {
        price: side(price.price, Round::Down),
        asset_price: side(price.asset_price, Round::Down),
        liab_price: side(price.liab_price, Round::Up),
        init_asset_price: side(price.init_asset_price, Round::Down),
        init_liab_price: side(price.init_liab_price, Round::Up),
        ..price
    }
}

/// The market with bank `index`'s prices shocked by `bps`.
fn shocked_market(market: &MarketState, index: usize, bps: i32) -> MarketState {
    let mut market = market.clone();
    if let Some(Some(bank)) = market.banks.get_mut(index) {
        if let Ok(last) = bank.last.as_mut() {
            last.price = shocked(last.price, bps);
        }
        if let Ok(price) = bank.price.as_mut() {
            *price = shocked(*price, bps);
        }
    }
    market
}

fn holds(account: &MarginAccount, bank: usize) -> (bool, bool) {
    let mut debt = false;
    let mut deposit = false;
    for position in account.active_positions() {
        match position.shares() {
            Some(PositionShares::Borrow(_)) => debt = true,
            Some(PositionShares::Deposit(_)) if position.bank_index as usize == bank => {
                deposit = true
            }
            _ => {}
        }
    }
    (debt, deposit)
}

impl Engine<'_> {
    /// The capacity table now: one row per collateral bank and shock.
    pub(super) fn capacity(&mut self) -> Result<Vec<CapacityRow>> {
        let mut backend = EmbeddedBackend::new(&mut self.sandbox.chain);
        let Discovered { market, accounts, .. } = self.observer.discover(&mut backend)?;
        let accounts: HashMap<Pubkey, MarginAccount> = accounts.into_iter().collect();
        let liquidator = *accounts
            .get(&self.keepers[0].1.account)
            .ok_or_else(|| anyhow!("the keeper's margin account"))?;
        let population = &self.scenario.population;
        let collateral: BTreeSet<usize> = population
            .collateral
            .keys()
            .chain(population.whales.iter().map(|w| &w.collateral))
            .map(|symbol| self.scenario.bank_index(symbol))
            .collect::<Result<_>>()?;
        let mut rows = Vec::new();
        for &bank in &collateral {
            let holders: Vec<(Pubkey, MarginAccount)> = self
                .users
                .iter()
                .filter_map(|u| accounts.get(&u.account).map(|a| (u.account, *a)))
                .filter(|(_, a)| holds(a, bank) == (true, true))
                .collect();
            for &pct in &self.scenario.capacity.shocks_pct {
                let bps = -(pct as i32) * 100;
                let factor = 1.0 - pct as f64 / 100.0;
                let market = shocked_market(&market, bank, bps);
                let shock = [PriceShock { index: bank as u16, bps }];
                let mut measured = Vec::with_capacity(holders.len());
                for (address, account) in &holders {
                    let view = self
                        .sandbox
                        .simulate_health_under_shock(address, &shock, &[])
                        .map_err(|f| super::failed("health_under_shock", &f))?;
                    let mut one =
                        AccountUnderShock { liquidatable: view.liquidatable, ..Default::default() };
                    if view.liquidatable {
                        self.plan_until_done(&market, account, &liquidator, bank, factor, &mut one);
                    }
                    measured.push(one);
                }
                let (liquidatable, seized, debt_usd, written_off_usd, unplanned) =
                    aggregate(&measured);
                let spec = &self.scenario.banks[bank];
                let tokens = seized as f64 / 10f64.powi(spec.decimals as i32);
                let price = self.price(bank) * factor;
                let (proceeds, impact) = absorb(spec.market, price, tokens);
                let insurance = |b: usize| {
                    let fund = self.usd(b, self.sandbox.bank(&self.banks[b]).insurance_native);
                    if b == bank {
                        fund * factor
                    } else {
                        fund
                    }
                };
                rows.push(CapacityRow {
                    symbol: spec.symbol.clone(),
                    shock_pct: pct,
                    accounts_checked: holders.len(),
                    liquidatable,
                    seized_tokens: tokens,
                    seized_usd: tokens * price,
                    debt_usd,
                    written_off_usd,
                    sale_proceeds_usd: proceeds,
                    price_impact_pct: impact,
                    depth: describe(spec.market),
                    bank_insurance_usd: insurance(bank),
                    insurance_usd: (0..self.banks.len()).map(insurance).sum(),
                    unplanned,
                });
            }
        }
        Ok(rows)
    }

    /// The keeper's steps on `account` in the shocked `market` until it is back at its end
    /// target (the liquidator's own health is not what is measured here, so it is not checked).
    fn plan_until_done(
        &self,
        market: &MarketState,
        account: &MarginAccount,
        liquidator: &MarginAccount,
        bank: usize,
        factor: f64,
        into: &mut AccountUnderShock,
    ) {
        let mut account = *account;
        for step in 0..MAX_STEPS {
            let plan = match plan_liquidation_with(
                market,
                &account,
                liquidator,
                LiquidatorCheck::Skipped,
                &|_, _| true,
            ) {
                Ok(plan) => plan,
                // Left to `resolve_bankruptcy`: what it owes then is written off.
                Err(NoPlan::NoPair(MarginError::AccountBankrupt)) => {
                    let risks = market.risks();
                    let dust = market.group.bankruptcy_dust_quote;
                    let totals = assess(&risks, &account, 0, dust).totals;
                    into.written_off_usd =
                        totals.liabs_value as f64 / 10f64.powi(QUOTE_DECIMALS as i32);
                    return;
                }
                Err(_) => {
                    into.unplanned = step == 0;
                    return;
                }
            };
            let amounts = plan.amounts;
            if plan.asset_bank as usize == bank {
                into.seized_native = into
                    .seized_native
                    .saturating_add(amounts.asset_to_liquidator)
                    .saturating_add(amounts.asset_to_insurance);
            }
            let liab = plan.liab_bank as usize;
            let at = if liab == bank { factor } else { 1.0 };
            into.debt_usd += self.usd(liab, amounts.liab) * at;
            account = plan.liquidatee_after;
        }
    }
}
