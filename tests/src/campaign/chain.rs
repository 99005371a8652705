//! Reading the chain: the [`State`] the checks work on, prices as the program reads them, and
//! accounts' health recomputed with the program's health module.

use std::ops::Index;

use cross_margin::health::{
    AccountTotals, Health, PerpTotals, PositionHealth, PositionShares, PricedPosition,
};
use cross_margin::math::{mul_q64, Round};
use cross_margin::oracle::{read_bank_last_price, read_price_sides, LastPrice, OracleAccount};
use cross_margin::oracle::{OraclePrice, PriceSide};
use cross_margin::state::{Bank, Group, MarginAccount, PerpMarket};

use super::{World, BANKS};
use crate::*;

/// Everything the checks read from the chain at one point.
#[derive(Clone)]
pub struct State {
    pub now: i64,
    pub group: Group,
    pub banks: Vec<Bank>,
    pub vaults: Vec<u64>,
    pub accounts: Vec<Option<MarginAccount>>,
    pub wallets: Vec<[u64; BANKS]>,
    pub perp: PerpMarket,
}

/// The perp oracle's price at every side (Q64.64 settle native per base native).
#[derive(Debug, Clone, Copy)]
pub(super) struct PerpSides {
    pub(super) mid: u128,
    pub(super) asset: u128,
    pub(super) liab: u128,
    pub(super) init_asset: u128,
    pub(super) init_liab: u128,
}

/// The perp market as health checks see it: its state and its price (or why it is unusable).
#[derive(Clone, Copy)]
pub(super) struct PerpPricing {
    pub(super) market: PerpMarket,
    pub(super) sides: Result<PerpSides, MarginError>,
}

/// Each bank's price as the health checks read it (or its oracle error), and the perp market's.
#[derive(Clone)]
pub(super) struct Prices {
    pub(super) banks: Vec<Result<OraclePrice, MarginError>>,
    pub(super) perp: PerpPricing,
}

/// Each bank's last published price as liquidation reads it, and the perp market's price.
#[derive(Clone)]
pub(super) struct LastPrices {
    pub(super) banks: Vec<Result<LastPrice, MarginError>>,
    pub(super) perp: PerpPricing,
}

impl Index<usize> for Prices {
    type Output = Result<OraclePrice, MarginError>;
    fn index(&self, i: usize) -> &Self::Output {
        &self.banks[i]
    }
}

impl Index<usize> for LastPrices {
    type Output = Result<LastPrice, MarginError>;
    fn index(&self, i: usize) -> &Self::Output {
        &self.banks[i]
    }
}

/// One position of a [`Report`].
#[derive(Debug, Clone, Copy)]
pub struct PositionReport {
    pub bank_index: u16,
    pub shares: PositionShares,
    /// Its contribution to the account's health.
    pub health: PositionHealth,
    /// The oracle price (what a liquidation exchanges at) and the two health prices.
    pub price: u128,
    pub asset_price: u128,
    pub liab_price: u128,
}

/// An account's health as the checks compute it: the program's health module on its positions,
/// priced from the oracle accounts on chain.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Summed by the program's own `AccountTotals` (with perps, `PerpTotals::combine`).
    pub totals: AccountTotals,
    pub positions: Vec<PositionReport>,
    /// The perp part of health, if the account has perp slots.
    pub perp: Option<PerpTotals>,
}

impl Report {
    pub(super) fn position(&self, bank: u16) -> Option<&PositionReport> {
        self.positions.iter().find(|p| p.bank_index == bank)
    }

    /// The positions as the program's pure liquidation code takes them (it reads their bank
    /// index and contribution only).
    pub(super) fn priced(&self) -> Vec<PricedPosition> {
        self.positions
            .iter()
            .map(|p| PricedPosition {
                bank_index: p.bank_index,
                risk: Default::default(),
                shares: p.shares,
                health: p.health,
                unusable: None,
            })
            .collect()
    }
}

/// A bank's vault balance and what it owes: deposits − borrows + insurance.
pub fn claims(state: &State, b: usize) -> (u64, i128) {
    (state.vaults[b], cross_margin_testkit::invariants::claims(&state.banks[b]))
}

impl World {
    pub fn state(&self) -> State {
        let chain = &self.m.chain;
        State {
            now: self.m.now(),
            group: self.m.group_state(),
            banks: self.banks.iter().map(|b| self.m.bank(b)).collect(),
            vaults: self.banks.iter().map(|b| chain.token_balance(&b.vault)).collect(),
            accounts: self.users.iter().map(|u| chain.load::<MarginAccount>(&u.account)).collect(),
            wallets: self
                .users
                .iter()
                .map(|u| {
                    let mut w = [0; BANKS];
                    for (b, w) in w.iter_mut().enumerate() {
                        *w = chain.token_balance(&u.tokens[b]);
                    }
                    w
                })
                .collect(),
            perp: chain.load(&self.perp.address).expect("the perp market exists"),
        }
    }

    /// Every account an action can touch, for the no-state-change check.
    pub(super) fn all_addresses(&self) -> Vec<Pubkey> {
        let mut addresses = vec![self.m.group, self.foreign.address, self.m.admin.pubkey()];
        addresses.extend([self.perp.address, self.perp.oracle]);
        for b in &self.banks {
            addresses.extend([b.address, b.vault, b.oracle, b.mint]);
        }
        for u in &self.users {
            addresses.extend([u.account, u.keypair.pubkey()]);
            addresses.extend(u.tokens.iter().copied());
        }
        addresses
    }

    /// Each bank's price as the program's health checks read it now (or its oracle error).
    pub(super) fn prices(&self, state: &State) -> Prices {
        let last = self.last_prices(state);
        Prices {
            banks: last
                .banks
                .into_iter()
                .map(|last| last.and_then(|l| l.unusable.map_or(Ok(l.price), Err)))
                .collect(),
            perp: last.perp,
        }
    }

    /// Each bank's last published price and why it is unusable, as liquidation reads it (or the
    /// oracle account's error), and the perp market's price.
    pub(super) fn last_prices(&self, state: &State) -> LastPrices {
        let banks = self
            .banks
            .iter()
            .zip(&state.banks)
            .map(|(r, bank)| {
                let account = self.m.chain.account(&r.oracle).expect("oracle exists");
                let oracle =
                    OracleAccount { key: &r.oracle, owner: &account.owner, data: &account.data };
                read_bank_last_price(bank, &state.group, oracle, state.now)
            })
            .collect();
        LastPrices { banks, perp: self.perp_pricing(state) }
    }

    /// The perp market of `state` and its oracle's price now, as every perp instruction and
    /// health check reads it (fresh and confident, or its error).
    pub(super) fn perp_pricing(&self, state: &State) -> PerpPricing {
        use PriceSide::*;
        let market = state.perp;
        let account = self.m.chain.account(&self.perp.oracle).expect("oracle exists");
        let oracle =
            OracleAccount { key: &self.perp.oracle, owner: &account.owner, data: &account.data };
        let sides = [Mid, Asset, Liability, InitAsset, InitLiability];
        let sides =
            read_price_sides(&market.pinned_oracle(), &state.group, oracle, state.now, sides).map(
                |[mid, asset, liab, init_asset, init_liab]| PerpSides {
                    mid,
                    asset,
                    liab,
                    init_asset,
                    init_liab,
                },
            );
        PerpPricing { market, sides }
    }

    /// The account's health with `banks` (stored, or accrued copies where the program accrues)
    /// and the current prices: the program's health module, fed by the checks.
    pub(super) fn report(
        &self,
        account: &MarginAccount,
        banks: &[Bank],
        prices: &Prices,
    ) -> Result<Report, MarginError> {
        let usable = |i: usize| prices[i].map(|price| LastPrice { price, unusable: None });
        Self::report_priced(account, banks, usable, None, &prices.perp)
    }

    /// The account's health as `liquidate` judges a liquidatee (finding M-2), restated here from
    /// the rule rather than taken from the program: a position whose price is unusable counts
    /// only if it is worth less than `dust` at its last oracle price, a deposit then for nothing
    /// and a borrow at its last liability price; otherwise the account cannot be judged.
    pub(super) fn report_as_liquidated(
        &self,
        account: &MarginAccount,
        banks: &[Bank],
        last: &LastPrices,
        dust: u64,
    ) -> Result<Report, MarginError> {
        Self::report_priced(account, banks, |i| last[i], Some(dust), &last.perp)
    }

    /// The token positions through the program's health module; with perp slots, their
    /// contribution joins the settle bank's balance ([`PerpTotals`]), whose price must then be
    /// usable (no dust rule), as must the perp price of a slot with a position.
    fn report_priced(
        account: &MarginAccount,
        banks: &[Bank],
        price_of: impl Fn(usize) -> Result<LastPrice, MarginError>,
        dust: Option<u64>,
        perp: &PerpPricing,
    ) -> Result<Report, MarginError> {
        let overflow = |_| MarginError::MathOverflow;
        let mut report = Report::default();
        for p in account.active_positions() {
            let i = p.bank_index as usize;
            let shares = p.shares().expect("active");
            let last = price_of(i)?;
            let price = last.price;
            let risk = banks[i].risk_at(&price).map_err(overflow)?;
            let mut health = risk.position_health(shares).map_err(overflow)?;
            if let Some(error) = last.unusable {
                let dust = dust.ok_or(error)?;
                let value = mul_q64(health.native, price.price, Round::Down).map_err(overflow)?;
                let borrow = matches!(shares, PositionShares::Borrow(_));
                if value >= dust || (borrow && price.price == 0) {
                    return Err(error);
                }
                if !borrow {
                    health = PositionHealth { native: health.native, ..Default::default() };
                }
            }
            report.totals.add(&health).map_err(overflow)?;
            report.positions.push(PositionReport {
                bank_index: p.bank_index,
                shares,
                health,
                price: price.price,
                asset_price: price.asset_price,
                liab_price: price.liab_price,
            });
        }
        if let Some(settle) = account.perp_settle_bank_index() {
            let last = price_of(settle as usize)?;
            if let Some(error) = last.unusable {
                return Err(error);
            }
            let settle_risk = banks[settle as usize].risk_at(&last.price).map_err(overflow)?;
            let (perps, pnl) = Self::perp_health(account, perp)?;
            let totals = PerpTotals { settle_bank_index: settle, settle_risk, perps, pnl };
            report.totals = totals.combine(&report.priced()).map_err(overflow)?;
            report.perp = Some(totals);
        }
        Ok(report)
    }

    /// The perp slots' contribution to init and maint health (settle native units), each slot
    /// priced as the program prices it (`PricedPerp::at`, through `priced_slot`), and their PnL
    /// at the maint sides, unweighted.
    pub(super) fn perp_health(
        account: &MarginAccount,
        perp: &PerpPricing,
    ) -> Result<(Health, i128), MarginError> {
        let overflow = MarginError::MathOverflow;
        let (mut total, mut pnl) = (Health::default(), 0i128);
        if let Some(priced) = super::perp_liquidation::priced_slot(account, perp)? {
            total.init = total.init.checked_add(priced.init).ok_or(overflow)?;
            total.maint = total.maint.checked_add(priced.maint).ok_or(overflow)?;
            pnl = pnl.checked_add(priced.maint_pnl).ok_or(overflow)?;
        }
        Ok((total, pnl))
    }

    /// Copies of the banks with `which` accrued to now (as the program accrues them first).
    pub(super) fn accrued(state: &State, which: &[usize]) -> Vec<Bank> {
        let mut banks = state.banks.clone();
        for &i in which {
            let _ = banks[i].accrue_interest(state.now);
        }
        banks
    }

    pub(super) fn accrual_overflows(state: &State, bank: usize) -> bool {
        state.banks[bank].clone().accrue_interest(state.now).is_err()
    }
}
