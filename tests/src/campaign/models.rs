//! What the checks expect, computed independently of the program's instructions: the amounts
//! an action aims at, how a liquidation must judge its liquidatee and what it moves, and when
//! a write-off is allowed.

use cross_margin::bankruptcy::can_write_off_account;
use cross_margin::health::PositionShares;
use cross_margin::liquidation::solvency_slack;
use cross_margin::liquidation::{end_target, fee_cap, is_liquidatable, liquidation_amounts};
use cross_margin::liquidation::{LiquidationAmounts, LiquidationInputs};
use cross_margin::math::{div_q64, mul_div, Round};
use cross_margin::positions;

use super::{Amount, Kind, State, World};

/// What a write-off is judged by (`World::write_off_facts`).
#[derive(Debug, Clone, Copy)]
pub(super) struct WriteOffFacts {
    pub(super) deposits: u64,
    pub(super) liabs: Option<u64>,
    pub(super) flagged: bool,
}

impl WriteOffFacts {
    /// Deposits below the dust threshold, and insolvent now or flagged by a liquidation.
    fn allowed(&self, dust: u64) -> bool {
        self.deposits < dust && (self.flagged || self.liabs.is_some_and(|l| self.deposits < l))
    }
}

/// The checks' verdict on a liquidatee before `liquidate` runs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Judgement {
    pub(super) write_off: bool,
    pub(super) liquidatable: bool,
}

impl World {
    /// What an amount of `kind` is relative to ([`Amount`]): the wallet, the deposit, the debt,
    /// or the borrowing capacity (capped by the bank's liquidity).
    pub(super) fn reference(&self, state: &State, user: usize, bank: usize, kind: Kind) -> u64 {
        let Some(account) = &state.accounts[user] else { return 1_000 };
        let banks = Self::accrued(state, &[bank]);
        match kind {
            Kind::Deposit => state.wallets[user][bank],
            Kind::Withdraw => positions::deposit_native(account, &banks[bank]).unwrap_or(0),
            Kind::Repay => positions::borrow_native(account, &banks[bank]).unwrap_or(0),
            Kind::Borrow => {
                let prices = self.prices(state);
                let capacity = match (self.report(account, &banks, &prices), &prices[bank]) {
                    (Ok(r), Ok(p)) if r.totals.health.init > 0 => {
                        let weighted = r.totals.health.init.min(u64::MAX as i128) as u64;
                        let value = mul_div(
                            weighted,
                            10_000,
                            banks[bank].config.init_liab_weight_bps as u64,
                            Round::Down,
                        )
                        .unwrap_or(0);
                        div_q64(value, p.liab_price, Round::Down).unwrap_or(0)
                    }
                    _ => 1_000,
                };
                capacity.min(banks[bank].available_liquidity().unwrap_or(0)).max(1)
            }
        }
    }

    pub(super) fn amount(&self, amount: Amount, reference: u64) -> u64 {
        match amount {
            Amount::Zero => 0,
            Amount::Units(n) => n,
            Amount::Frac(bps) | Amount::StepFrac(bps) => {
                (reference as u128 * bps as u128 / 10_000) as u64
            }
            Amount::All | Amount::Step { .. } => reference,
            Amount::AllPlusOne => reference.saturating_add(1),
            Amount::Max => u64::MAX,
        }
    }

    /// A liquidation's `max_liab_amount`: unlimited for `Max` and `All`, relative to the
    /// closed-form step for `Step` and `StepFrac` (unlimited where it cannot be planned), else
    /// relative to the liquidatee `le`'s debt in bank `l`.
    pub(super) fn liquidation_max(
        &self,
        s: &State,
        (le, l, a): (usize, usize, usize),
        amount: Amount,
    ) -> u64 {
        let step = || self.plan_liquidation(s, le, l, a, u64::MAX).map(|p| p.liab);
        match amount {
            Amount::Max | Amount::All => u64::MAX,
            Amount::Step { delta } => match step() {
                Some(liab) => liab.saturating_add_signed(delta as i64).max(1),
                None => u64::MAX,
            },
            Amount::StepFrac(bps) => match step() {
                Some(liab) => ((liab as u128 * bps as u128 / 10_000) as u64).max(1),
                None => u64::MAX,
            },
            other => self.amount(other, self.reference(s, le, l, Kind::Repay)),
        }
    }

    /// How `liquidate` must judge the liquidatee, computed by the checks: `None` when they cannot
    /// (no account, or a position without a usable price).
    pub(super) fn judge_liquidatee(
        &self,
        s: &State,
        le: usize,
        l: usize,
        a: usize,
    ) -> Option<Judgement> {
        let account = s.accounts[le].as_ref()?;
        let banks = Self::accrued(s, &[l, a]);
        let dust = s.group.bankruptcy_dust_quote;
        let report = self.report_as_liquidated(account, &banks, &self.last_prices(s), dust).ok()?;
        let write_off = can_write_off_account(&report.totals, account.bankrupt != 0, dust);
        let target =
            end_target(report.totals.maint_weighted_liabs, s.group.liquidation_end_buffer_bps);
        let under_way = account.being_liquidated != 0;
        let liquidatable = is_liquidatable(report.totals.health.maint, target, under_way);
        Some(Judgement { write_off, liquidatable })
    }

    /// What a write-off of user `u`'s debt in bank `b` is judged by, computed independently of
    /// the program's bankruptcy module: its deposits' value (always priced), its debts' value
    /// (`None` when a debt has no usable price) and whether a liquidation flagged it. A position
    /// whose price is unusable counts as finding M-2's rule says (restated in
    /// `report_as_liquidated`): only if it is dust at its last price.
    pub(super) fn write_off_facts(
        &self,
        s: &State,
        u: usize,
        b: usize,
    ) -> Result<WriteOffFacts, String> {
        let account = s.accounts[u].as_ref().ok_or("no account")?;
        let banks = Self::accrued(s, &[b]);
        let last = self.last_prices(s);
        let dust = s.group.bankruptcy_dust_quote;
        let mut deposits = 0u64;
        let mut liabs = Some(0u64);
        for p in account.active_positions() {
            let mut one = *account;
            one.positions = [Default::default(); cross_margin::constants::MAX_POSITIONS];
            one.positions[0] = *p;
            let priced = self.report_as_liquidated(&one, &banks, &last, dust);
            match (p.shares().unwrap(), priced) {
                (PositionShares::Deposit(_), Ok(r)) => deposits += r.totals.deposits_value,
                (PositionShares::Deposit(_), Err(e)) => {
                    return Err(format!("a deposit has no price: {e:?}"))
                }
                (PositionShares::Borrow(_), Ok(r)) => {
                    liabs = liabs.map(|l| l + r.totals.liabs_value)
                }
                (PositionShares::Borrow(_), Err(_)) => liabs = None,
            }
        }
        Ok(WriteOffFacts { deposits, liabs, flagged: account.bankrupt != 0 })
    }

    /// Whether `resolve_bankruptcy` may write off user `u`'s debt in bank `b`: `None` when the
    /// checks cannot tell (no account or debt there, or a price the program needs is missing).
    pub(super) fn judge_write_off(&self, s: &State, u: usize, b: usize) -> Option<bool> {
        let account = s.accounts[u].as_ref()?;
        let bank = &Self::accrued(s, &[b])[b];
        if positions::borrow_native(account, bank).ok()? == 0 {
            return None;
        }
        let facts = self.write_off_facts(s, u, b).ok()?;
        if !facts.flagged && facts.liabs.is_none() {
            return None;
        }
        Some(facts.allowed(s.group.bankruptcy_dust_quote))
    }

    /// The amounts the program will compute: the pure liquidation module on the liquidatee's
    /// health with the two banks accrued (as the program does first).
    pub(super) fn plan_liquidation(
        &self,
        s: &State,
        le: usize,
        l: usize,
        a: usize,
        max: u64,
    ) -> Option<LiquidationAmounts> {
        let account = s.accounts[le].as_ref()?;
        let banks = Self::accrued(s, &[l, a]);
        let last = self.last_prices(s);
        let dust = s.group.bankruptcy_dust_quote;
        let before = self.report_as_liquidated(account, &banks, &last, dust).ok()?;
        let liab =
            before.position(l as u16).filter(|p| matches!(p.shares, PositionShares::Borrow(_)))?;
        let asset =
            before.position(a as u16).filter(|p| matches!(p.shares, PositionShares::Deposit(_)))?;
        liquidation_amounts(&LiquidationInputs {
            maint_health: before.totals.health.maint,
            maint_weighted_liabs: before.totals.maint_weighted_liabs,
            end_buffer_bps: s.group.liquidation_end_buffer_bps,
            liab_price: liab.liab_price,
            liab_exchange_price: liab.price,
            liab_maint_weight_bps: banks[l].config.maint_liab_weight_bps,
            asset_price: asset.asset_price,
            asset_exchange_price: asset.price,
            asset_maint_weight_bps: banks[a].config.maint_asset_weight_bps,
            liquidation_fee_bps: banks[a].config.liquidation_fee_bps,
            insurance_fee_bps: banks[a].config.insurance_fee_bps,
            liab_owed: liab.health.native,
            asset_available: asset.health.native,
            max_liab_amount: max,
            max_fee_quote: fee_cap(
                before.totals.deposits_value,
                before.totals.liabs_value,
                solvency_slack(liab.liab_price, asset.asset_price).ok()?,
            ),
        })
        .ok()
    }
}
