//! Reading the chain: the [`State`] the checks work on, prices as the program reads them, and
//! accounts' health recomputed with the program's health module.

use cross_margin::health::{AccountTotals, PositionHealth, PositionShares};
use cross_margin::math::{mul_q64, Round};
use cross_margin::oracle::{read_bank_last_price, LastPrice, OracleAccount, OraclePrice};
use cross_margin::state::{Bank, Group, MarginAccount};

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
    /// Summed by the program's own `AccountTotals`.
    pub totals: AccountTotals,
    pub positions: Vec<PositionReport>,
}

impl Report {
    pub(super) fn position(&self, bank: u16) -> Option<&PositionReport> {
        self.positions.iter().find(|p| p.bank_index == bank)
    }
}

/// A bank's vault balance and what it owes: deposits − borrows + insurance.
pub fn claims(state: &State, b: usize) -> (u64, i128) {
    let bank = &state.banks[b];
    let claims = bank.total_deposits_native().expect("fits") as i128
        - bank.total_borrows_native().expect("fits") as i128
        + bank.insurance_native as i128;
    (state.vaults[b], claims)
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
        }
    }

    /// Every account an action can touch, for the no-state-change check.
    pub(super) fn all_addresses(&self) -> Vec<Pubkey> {
        let mut addresses = vec![self.m.group, self.foreign.address, self.m.admin.pubkey()];
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
    pub(super) fn prices(&self, state: &State) -> Vec<Result<OraclePrice, MarginError>> {
        self.last_prices(state)
            .into_iter()
            .map(|last| last.and_then(|l| l.unusable.map_or(Ok(l.price), Err)))
            .collect()
    }

    /// Each bank's last published price and why it is unusable, as liquidation reads it (or the
    /// oracle account's error).
    pub(super) fn last_prices(&self, state: &State) -> Vec<Result<LastPrice, MarginError>> {
        self.banks
            .iter()
            .zip(&state.banks)
            .map(|(r, bank)| {
                let account = self.m.chain.account(&r.oracle).expect("oracle exists");
                let oracle =
                    OracleAccount { key: &r.oracle, owner: &account.owner, data: &account.data };
                read_bank_last_price(bank, &state.group, oracle, state.now)
            })
            .collect()
    }

    /// The account's health with `banks` (stored, or accrued copies where the program accrues)
    /// and the current prices: the program's health module, fed by the checks.
    pub(super) fn report(
        &self,
        account: &MarginAccount,
        banks: &[Bank],
        prices: &[Result<OraclePrice, MarginError>],
    ) -> Result<Report, MarginError> {
        let usable = |i: usize| prices[i].map(|price| LastPrice { price, unusable: None });
        Self::report_priced(account, banks, usable, None)
    }

    /// The account's health as `liquidate` judges a liquidatee (finding M-2), restated here from
    /// the rule rather than taken from the program: a position whose price is unusable counts
    /// only if it is worth less than `dust` at its last oracle price, a deposit then for nothing
    /// and a borrow at its last liability price; otherwise the account cannot be judged.
    pub(super) fn report_as_liquidated(
        &self,
        account: &MarginAccount,
        banks: &[Bank],
        last: &[Result<LastPrice, MarginError>],
        dust: u64,
    ) -> Result<Report, MarginError> {
        Self::report_priced(account, banks, |i| last[i], Some(dust))
    }

    fn report_priced(
        account: &MarginAccount,
        banks: &[Bank],
        price_of: impl Fn(usize) -> Result<LastPrice, MarginError>,
        dust: Option<u64>,
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
        Ok(report)
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
