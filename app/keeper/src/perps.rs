//! The group's perp markets as the keeper sees them, and an account's perp slots priced as the
//! program prices them (`health_accounts::price_perp`): each position with its market's funding
//! applied, at its own maint and init sides, by the program's `perp::perp_health`. The totals are
//! always the program's `PerpTotals::combine`.

use cross_margin::error::MarginError;
use cross_margin::health::{Health, PerpTotals, PricedPosition};
use cross_margin::health_accounts::PricedPerp;
use cross_margin::oracle::{read_price_sides, OracleAccount, PriceSide};
use cross_margin::perp::actions::{touch_market, Touch};
use cross_margin::state::{Bank, Group, MarginAccount, PerpMarket, PerpSlot};
use cross_margin_client::perp_ix::PerpMarketRef;
use cross_margin_client::Pubkey;

use crate::backend::AccountData;
use crate::market::{LastRisk, MarketState};

/// Offset of `PerpMarket::group`: the getProgramAccounts filter for one group's markets.
pub const PERP_GROUP_OFFSET: usize = 8;

/// A perp market's oracle price, every side (as `read_price_sides` gives them), or why the
/// program would refuse it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerpPrice {
    pub mid: u128,
    pub asset: u128,
    pub liab: u128,
    pub init_asset: u128,
    pub init_liab: u128,
}

/// One perp market with its price.
#[derive(Debug, Clone)]
pub struct PerpMarketState {
    pub address: Pubkey,
    pub market: PerpMarket,
    pub price: Result<PerpPrice, MarginError>,
}

impl PerpMarketState {
    /// Decodes nothing: `market` is decoded by the caller; reads its oracle at `now`.
    pub fn new(
        address: Pubkey,
        market: PerpMarket,
        group: &Group,
        oracle: Option<&AccountData>,
        now: i64,
    ) -> Self {
        use PriceSide::*;
        let price = oracle.ok_or(MarginError::OracleAccountMismatch).and_then(|raw| {
            let account = OracleAccount { key: &market.oracle, owner: &raw.owner, data: &raw.data };
            let sides = [Mid, Asset, Liability, InitAsset, InitLiability];
            let [mid, asset, liab, init_asset, init_liab] =
                read_price_sides(&market.pinned_oracle(), group, account, now, sides)?;
            Ok(PerpPrice { mid, asset, liab, init_asset, init_liab })
        });
        Self { address, market, price }
    }

    /// The market and its settle bank as the next perp instruction will hold them: the settle
    /// bank accrued, the market's funding accrued to `now` (`perp::actions::touch_market`).
    pub fn touched(&self, settle_bank: &Bank, now: i64) -> Result<Touched, MarginError> {
        let price = self.price?.mid;
        let (mut market, mut bank) = (self.market, *settle_bank);
        let touch = touch_market(&mut market, &mut bank, now, price)?;
        Ok(Touched { market, settle_bank: bank, touch })
    }
}

/// A market and its settle bank after `touch_market`, on copies.
#[derive(Debug, Clone, Copy)]
pub struct Touched {
    pub market: PerpMarket,
    pub settle_bank: Bank,
    pub touch: Touch,
}

/// What pricing a perp slot needs: its market (funding as the instruction will see it) and
/// the market's price.
#[derive(Debug, Clone, Copy)]
pub struct PerpRisk {
    pub market: PerpMarket,
    pub price: Result<PerpPrice, MarginError>,
}

impl PerpRisk {
    /// The slot priced as `health_accounts::price_perp` prices it (`PricedPerp::at`). A
    /// position with no size needs no usable price (it is its quote at any price).
    pub fn price(&self, slot: &PerpSlot) -> Result<PricedPerp, MarginError> {
        let overflow = |_| MarginError::MathOverflow;
        let mut position = slot.position();
        position.apply_funding(&self.market.funding()).map_err(overflow)?;
        let mut prices = [0; 3];
        if position.base_lots != 0 {
            let p = self.price?;
            prices = match position.base_lots > 0 {
                true => [p.mid, p.asset, p.init_asset],
                false => [p.mid, p.liab, p.init_liab],
            };
        }
        PricedPerp::at(slot, &position, &self.market.config, prices).map_err(overflow)
    }
}

/// Sums priced slots into the perp part of health, as `health_accounts::perp_totals` does.
#[derive(Debug, Clone, Copy)]
pub struct PerpSum {
    perps: Health,
    pnl: i128,
}

impl PerpSum {
    pub const ZERO: PerpSum = PerpSum { perps: Health { init: 0, maint: 0 }, pnl: 0 };

    pub fn add(&mut self, slot: &PricedPerp) -> Result<(), MarginError> {
        let add = |a: i128, b: i128| a.checked_add(b).ok_or(MarginError::MathOverflow);
        self.perps.init = add(self.perps.init, slot.init)?;
        self.perps.maint = add(self.perps.maint, slot.maint)?;
        self.pnl = add(self.pnl, slot.maint_pnl)?;
        Ok(())
    }

    /// The totals in the settle bank `settle`, whose price must be usable (the program reads
    /// it with every side, `health_accounts::settle_risk`).
    pub fn totals(&self, settle: u16, risk: &LastRisk) -> Result<PerpTotals, MarginError> {
        if let Some(error) = risk.unusable {
            return Err(error);
        }
        let (perps, pnl) = (self.perps, self.pnl);
        Ok(PerpTotals { settle_bank_index: settle, settle_risk: risk.risk, perps, pnl })
    }
}

/// Why an account with perp slots cannot be priced: a bank's or a perp market's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpriced {
    Bank { bank_index: u16, error: MarginError },
    Perp { market_index: u16, error: MarginError },
}

impl Unpriced {
    pub fn error(&self) -> MarginError {
        match *self {
            Self::Bank { error, .. } | Self::Perp { error, .. } => error,
        }
    }
}

/// The banks and perp markets one instruction holds (accrued or touched copies); every other
/// one is read as stored, as the program's health check reads them.
#[derive(Clone, Copy, Default)]
pub struct Held<'a> {
    pub banks: &'a [&'a Bank],
    pub perps: &'a [&'a PerpMarket],
}

/// An account priced as one instruction prices it (`Breakdown::PerPosition`).
#[derive(Debug, Clone)]
pub struct PricedAccount {
    pub positions: Vec<PricedPosition>,
    pub slots: Vec<PricedPerp>,
    pub perp: Option<PerpTotals>,
}

impl PricedAccount {
    /// The program's totals of the account (`liquidation::totals`, `PerpTotals::combine`).
    pub fn totals(&self) -> Result<cross_margin::health::AccountTotals, MarginError> {
        cross_margin::liquidation::totals(&self.positions, self.perp.as_ref())
    }

    pub fn slot(&self, market_index: u16) -> Option<&PricedPerp> {
        self.slots.iter().find(|s| s.market_index == market_index)
    }
}

impl MarketState {
    pub fn perp(&self, index: u16) -> Option<&PerpMarketState> {
        self.perps.get(index as usize).and_then(Option::as_ref)
    }

    pub fn perp_ref(&self, index: u16) -> Option<PerpMarketRef> {
        let state = self.perp(index)?;
        let settle = self.bank_ref(state.market.settle_bank_index)?;
        Some(PerpMarketRef::from_market(state.address, &state.market, settle))
    }

    /// Every perp market's risk with its funding accrued to now (on copies, as
    /// `touch_market` will), or stored when its price is unusable.
    pub fn perp_risks(&self) -> Vec<Result<PerpRisk, MarginError>> {
        self.perps
            .iter()
            .map(|state| {
                let state = state.as_ref().ok_or(MarginError::HealthPerpMarketMismatch)?;
                let settle = self.bank(state.market.settle_bank_index);
                let settle = settle.ok_or(MarginError::HealthSettleBankMismatch)?;
                let market = match state.touched(&settle.bank, self.now) {
                    Ok(touched) => touched.market,
                    Err(_) => state.market,
                };
                Ok(PerpRisk { market, price: state.price })
            })
            .collect()
    }

    /// `account` priced as an instruction holding `held` prices it: token positions at their
    /// last prices (the dust rule), the settle bank and the perp slots at usable prices.
    pub fn price_account(
        &self,
        account: &MarginAccount,
        held: Held,
    ) -> Result<PricedAccount, Unpriced> {
        let dust = self.group.bankruptcy_dust_quote;
        let bank_risk = |index: u16| -> Result<LastRisk, Unpriced> {
            let unpriced = |error| Unpriced::Bank { bank_index: index, error };
            let state = self.bank(index).ok_or(unpriced(MarginError::HealthBankInvalid))?;
            let bank = held.banks.iter().find(|b| b.bank_index == index).copied();
            let last = state.last.as_ref().map_err(|e| unpriced(*e))?;
            LastRisk::new(bank.unwrap_or(&state.bank), last).map_err(unpriced)
        };
        let (_, settle) = account.perp_summary();
        let mut positions = Vec::with_capacity(account.active_count());
        for position in account.active_positions() {
            let Some(shares) = position.shares() else { continue };
            let index = position.bank_index;
            let risk = bank_risk(index)?;
            let unpriced = |error| Unpriced::Bank { bank_index: index, error };
            match risk.unusable {
                Some(error) if settle == Some(index) => return Err(unpriced(error)),
                _ => {}
            }
            positions.push(risk.price(index, shares, dust).map_err(unpriced)?);
        }
        let Some(settle) = settle else {
            return Ok(PricedAccount { positions, slots: Vec::new(), perp: None });
        };
        let mut sum = PerpSum::ZERO;
        let mut slots = Vec::with_capacity(account.active_perp_count());
        for slot in account.active_perps() {
            let index = slot.market_index;
            let unpriced = |error| Unpriced::Perp { market_index: index, error };
            let state = self.perp(index).ok_or(unpriced(MarginError::HealthPerpMarketMismatch))?;
            let market = held.perps.iter().find(|m| m.market_index == index).copied();
            let risk = PerpRisk { market: *market.unwrap_or(&state.market), price: state.price };
            let priced = risk.price(slot).map_err(unpriced)?;
            sum.add(&priced).map_err(unpriced)?;
            slots.push(priced);
        }
        let risk = bank_risk(settle)?;
        let perp = sum
            .totals(settle, &risk)
            .map_err(|error| Unpriced::Bank { bank_index: settle, error })?;
        Ok(PricedAccount { positions, slots, perp: Some(perp) })
    }
}
