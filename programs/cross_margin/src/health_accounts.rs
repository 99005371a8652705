//! Account plumbing for health checks: the caller passes, in remaining accounts, `(bank, oracle)`
//! for every active token position in slot order; then, if the account has perp positions and
//! no token position in their settle bank, `(settle bank, oracle)`; then `(perp market, oracle)`
//! for every active perp slot in slot order. This module validates that list (each mistake has
//! its own error), reads the prices, and hands plain numbers to the pure `health` and `perp`
//! modules.

use anchor_lang::prelude::*;
use anchor_lang::Discriminator;

use crate::error::MarginError;
use crate::health::shock::shock_price;
use crate::health::{
    find_position, AccountTotals, BankRisk, Health, PerpTotals, PositionShares, PricedPosition,
    Shocks,
};
use crate::math::Round;
use crate::oracle::{
    normalise_last_sides, read_bank_last_raw, read_bank_price_sides, read_price_sides,
    OracleAccount, PriceSide,
};
use crate::perp::{perp_health, PerpHealthInputs, PerpPosition};
use crate::state::{Bank, Group, MarginAccount, PerpMarket, PerpMarketConfig, PerpSlot};

/// A bank the instruction already holds (mutably) and that must not be loaded again.
pub struct LoadedBank<'a> {
    pub key: Pubkey,
    pub bank: &'a Bank,
}

/// A perp market the instruction already holds (mutably) and that must not be loaded again.
pub struct LoadedPerp<'a> {
    pub key: Pubkey,
    pub market: &'a PerpMarket,
}

/// One perp slot as a health check priced it (funding accrued in its market applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedPerp {
    pub market_index: u16,
    pub base_lots: i64,
    pub quote_native: i64,
    pub lp_shares: u64,
    /// Unrealised PnL at the oracle price, settle native units (`PerPosition` only).
    pub pnl: i128,
    /// Unrealised PnL at the maint side (a long at the lower price, a short at the higher).
    pub maint_pnl: i128,
    /// The oracle (mid) price and the maint side's price (0 for a position with no size).
    pub mid_price: u128,
    pub maint_price: u128,
    /// Contributions to init and maint health, settle native units, before they join the
    /// settle bank's balance (`PerpTotals`).
    pub init: i128,
    pub maint: i128,
}

/// The banks and perp markets an instruction already holds (mutably, maybe modified): the health
/// check uses them instead of decoding their accounts again. `shocks`: hypothetical price moves
/// (the `health_under_shock` view, `Breakdown::PerPosition` only); none elsewhere.
#[derive(Clone, Copy, Default)]
pub struct Held<'a> {
    pub banks: &'a [LoadedBank<'a>],
    pub perps: &'a [LoadedPerp<'a>],
    pub shocks: Shocks<'a>,
}

impl Held<'_> {
    /// A perp market the instruction holds, passed where a bank is expected, is refused by name
    /// (it is borrowed mutably: reading it again would fail without one).
    fn refuse_held_perp(&self, key: &Pubkey) -> Result<()> {
        require!(!self.perps.iter().any(|l| l.key == *key), MarginError::HealthBankInvalid);
        Ok(())
    }

    /// A bank the instruction holds, passed where a perp market is expected, likewise.
    fn refuse_held_bank(&self, key: &Pubkey) -> Result<()> {
        let held = self.banks.iter().any(|l| l.key == *key);
        require!(!held, MarginError::HealthPerpMarketMismatch);
        Ok(())
    }
}

/// A settle bank seen among the token positions: its risk at both sides, the account's signed
/// balance in it, and that balance's own contribution.
#[derive(Clone, Copy)]
struct SettleBalance {
    risk: BankRisk,
    balance: i128,
    alone: Health,
}

/// Health of `account`, and (if asked for) its per-position breakdown in slot order.
#[derive(Default)]
pub struct HealthReport {
    pub health: Health,
    pub positions: Vec<PricedPosition>,
    /// `Breakdown::PerPosition` only: the perp slots, in slot order.
    pub perps: Vec<PricedPerp>,
    /// The perp part of health, if the account has perp slots.
    pub perp: Option<PerpTotals>,
    /// `Breakdown::Collateral` only: the deposits at their asset prices (quote native units).
    pub deposits_value: u64,
    /// `Breakdown::Collateral` only: whether any borrow remains.
    pub has_debt: bool,
}

impl HealthReport {
    pub fn position(&self, bank_index: u16) -> Option<&PricedPosition> {
        find_position(&self.positions, bank_index)
    }

    /// `Breakdown::PerPosition` only: the account's totals (health, maint-weighted liabilities,
    /// the deposits' and debts' values, whether debt remains).
    pub fn totals(&self) -> Result<AccountTotals> {
        Ok(crate::liquidation::totals(&self.positions, self.perp.as_ref())?)
    }
}

/// What the caller needs from the health accounts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    /// Init health only (the borrow gate and the liquidator's check, which saves the
    /// bookkeeping and the maint-side prices): `health.maint` is left 0.
    Totals,
    /// As `Totals`, for a withdrawal: a bank whose init weights were tightened at once still
    /// lends its pre-tightening weights to withdrawals for one delay ([`Bank::exit_init_weights`]),
    /// so a tightening cannot lock users in while a queued change runs down.
    Withdrawal,
    /// Totals plus each position priced at all three prices (the `health` view, liquidation,
    /// write-off), a dust position with an unusable price let through
    /// (`PricedPosition::at_last_price`).
    PerPosition,
    /// The deposits' value (priced as in `PerPosition`) and whether debt remains, for the
    /// bankruptcy test. Borrows are not priced, so a dead liability oracle cannot block a
    /// write-off.
    Collateral,
}

/// Validates the health accounts and computes the account's health at unix time `now`.
///
/// `Breakdown::Totals` (the init-health gate, the account's own owner or liquidator acting) needs
/// the list exactly: one `(bank, oracle)` pair per active position, in slot order. For the other
/// breakdowns (liquidation, write-off, the view) the account's owner is not the one listing, so a
/// race must not break the list (finding L-5): pairs no position needs are skipped. Every
/// position must still have its pair: one left out would count for nothing, and a caller could
/// drop a deposit that backs a borrow (finding 28). Every pair passed must be a bank of the group.
pub fn compute_account_health(
    account: &MarginAccount,
    group_key: &Pubkey,
    group: &Group,
    remaining: &[AccountInfo],
    now: i64,
    held: Held,
    breakdown: Breakdown,
) -> Result<HealthReport> {
    let loaded = held.banks;
    // Shocks price positions at every side: only the per-position breakdown reads them all.
    let shockable = breakdown == Breakdown::PerPosition;
    require!(shockable || held.shocks.is_empty(), MarginError::InvalidPriceShock);
    let active_count = account.active_count();
    let exact = matches!(breakdown, Breakdown::Totals | Breakdown::Withdrawal);
    // The perp tail: the settle bank's pair (unless a token position holds it), then one pair
    // per perp slot. It is always exact and always last.
    let (perp_count, settle_index) = account.perp_summary();
    let settle_pair = settle_index.is_some_and(|index| account.find(index).is_none());
    let tail = 2 * (perp_count + settle_pair as usize);
    if exact {
        let needed = active_count * 2 + tail;
        require_gte!(remaining.len(), needed, MarginError::HealthAccountsMissing);
        require_eq!(remaining.len(), needed, MarginError::HealthAccountsExtra);
    } else {
        require!(remaining.len().is_multiple_of(2), MarginError::HealthAccountsExtra);
        require_gte!(remaining.len(), tail, MarginError::HealthAccountsMissing);
    }
    let (remaining, tail) = remaining.split_at(remaining.len() - tail);
    // The settle bank's risk (both sides), the account's balance in it and that balance's own
    // contribution, once seen among the token positions.
    let mut settle: Option<SettleBalance> = None;

    let mut report = HealthReport::default();
    if breakdown == Breakdown::PerPosition {
        report.positions.reserve_exact(active_count);
    }
    let active = account.positions.iter().filter(|p| p.is_active());
    let mut next_pair = 0;
    for (i, position) in active.enumerate() {
        let Some(shares) = position.shares() else { continue };
        let pair = if exact {
            i
        } else {
            find_pair(remaining, next_pair, position.bank_index, group_key, held)?
                .ok_or(MarginError::HealthAccountsMissing)?
        };
        next_pair = pair + 1;
        let bank_info = &remaining[2 * pair];
        let oracle_info = &remaining[2 * pair + 1];
        // The bank: the instruction's own (already loaded, maybe modified) or decoded here.
        let data;
        let held_bank = loaded.iter().find(|l| l.key == *bank_info.key);
        let bank: &Bank = match held_bank {
            Some(loaded) => loaded.bank,
            None => {
                held.refuse_held_perp(bank_info.key)?;
                data = bank_info.try_borrow_data()?;
                decode_bank(bank_info.owner, &data)?
            }
        };
        require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
        if bank.bank_index != position.bank_index {
            // Only on this error path: tell a repeated bank from a wrong one.
            let repeated = remaining[..2 * pair].iter().step_by(2).any(|e| e.key == bank_info.key);
            return Err(if repeated {
                MarginError::HealthBankDuplicate
            } else {
                MarginError::HealthBankMismatch
            }
            .into());
        }
        if settle_index == Some(position.bank_index) {
            // The settle bank: priced at both sides, since the perps' PnL joins its balance.
            require!(breakdown != Breakdown::Collateral, MarginError::PerpPositionsOpen);
            let shock = held.shocks.bank(position.bank_index);
            let risk = settle_risk(bank, group, oracle_info, now, breakdown, shock)?;
            let alone = risk.position_health(shares).map_err(|_| MarginError::MathOverflow)?;
            let balance =
                if alone.is_liability { -(alone.native as i128) } else { alone.native as i128 };
            let alone_health = Health { init: alone.init, maint: alone.maint };
            settle = Some(SettleBalance { risk, balance, alone: alone_health });
            report.health.add(&alone).map_err(|_| MarginError::MathOverflow)?;
            if !exact {
                let (bank_index, unusable) = (position.bank_index, None);
                report.positions.push(PricedPosition {
                    bank_index,
                    risk,
                    shares,
                    health: alone,
                    unusable,
                });
            }
            continue;
        }
        if exact {
            let withdrawal = breakdown == Breakdown::Withdrawal;
            let init = init_contribution(bank, group, oracle_info, now, shares, withdrawal)?;
            report.health.init =
                report.health.init.checked_add(init).ok_or(MarginError::MathOverflow)?;
            continue;
        }
        // Liquidation and write-off: a dust position with an unusable price does not block them
        // (finding M-2, `PricedPosition::at_last_price`).
        if breakdown == Breakdown::Collateral {
            if let PositionShares::Borrow(_) = shares {
                report.has_debt = true;
                continue;
            }
        }
        let exchanged = held_bank.is_some();
        let shock = held.shocks.bank(position.bank_index);
        let priced = price_at_last(
            bank,
            group,
            oracle_info,
            now,
            (exchanged, shock),
            position.bank_index,
            shares,
        )?;
        if breakdown == Breakdown::Collateral {
            report.deposits_value = report
                .deposits_value
                .checked_add(priced.health.value)
                .ok_or(MarginError::MathOverflow)?;
            continue;
        }
        report.health.add(&priced.health).map_err(|_| MarginError::MathOverflow)?;
        report.positions.push(priced);
    }
    if let Some(settle_bank_index) = settle_index {
        let perp = perp_totals(
            account,
            group_key,
            group,
            (settle_bank_index, settle, tail),
            now,
            held,
            breakdown,
            &mut report,
        )?;
        report.perp = Some(perp);
    }
    Ok(report)
}

/// The perp part of health ([`PerpTotals`]) from the tail of the health accounts, its
/// adjustment added to `report.health`.
#[allow(clippy::too_many_arguments)]
fn perp_totals(
    account: &MarginAccount,
    group_key: &Pubkey,
    group: &Group,
    (settle_bank_index, settle, tail): (u16, Option<SettleBalance>, &[AccountInfo]),
    now: i64,
    held: Held,
    breakdown: Breakdown,
    report: &mut HealthReport,
) -> Result<PerpTotals> {
    let overflow = |_| error!(MarginError::MathOverflow);
    let (settle_risk, balance, alone, pairs) = match settle {
        Some(SettleBalance { risk, balance, alone }) => (risk, balance, alone, tail),
        None => {
            let (bank_info, oracle_info) = (&tail[0], &tail[1]);
            let data;
            let bank: &Bank = match held.banks.iter().find(|l| l.key == *bank_info.key) {
                Some(held) => held.bank,
                None => {
                    held.refuse_held_perp(bank_info.key)?;
                    data = bank_info.try_borrow_data()?;
                    decode_bank(bank_info.owner, &data)?
                }
            };
            require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
            require_eq!(bank.bank_index, settle_bank_index, MarginError::HealthSettleBankMismatch);
            let shock = held.shocks.bank(settle_bank_index);
            let risk = settle_risk(bank, group, oracle_info, now, breakdown, shock)?;
            (risk, 0, Health::default(), &tail[2..])
        }
    };
    let (mut perps, mut pnl) = (Health::default(), 0i128);
    for (k, slot) in account.active_perps().enumerate() {
        let (market_info, oracle_info) = (&pairs[2 * k], &pairs[2 * k + 1]);
        let data;
        let market: &PerpMarket = match held.perps.iter().find(|l| l.key == *market_info.key) {
            Some(held) => held.market,
            None => {
                held.refuse_held_bank(market_info.key)?;
                data = market_info.try_borrow_data()?;
                decode_perp_market(market_info.owner, &data)?
            }
        };
        require!(
            market.group == *group_key && market.market_index == slot.market_index,
            MarginError::HealthPerpMarketMismatch
        );
        if matches!(breakdown, Breakdown::Totals | Breakdown::Withdrawal) {
            let init = perp_init_contribution(market, slot, group, oracle_info, now)?;
            perps.init = perps.init.checked_add(init).ok_or(MarginError::MathOverflow)?;
            continue;
        }
        let shock = held.shocks.perp(slot.market_index);
        let priced = price_perp(market, slot, group, oracle_info, now, shock)?;
        perps.init = perps.init.checked_add(priced.init).ok_or(MarginError::MathOverflow)?;
        perps.maint = perps.maint.checked_add(priced.maint).ok_or(MarginError::MathOverflow)?;
        pnl = pnl.checked_add(priced.maint_pnl).ok_or(MarginError::MathOverflow)?;
        if breakdown == Breakdown::PerPosition {
            report.perps.push(priced);
        }
    }
    let totals = PerpTotals { settle_bank_index, settle_risk, perps, pnl };
    let adjustment = totals.adjustment_of(balance, &alone).map_err(overflow)?;
    report.health.init =
        report.health.init.checked_add(adjustment.init).ok_or(MarginError::MathOverflow)?;
    report.health.maint =
        report.health.maint.checked_add(adjustment.maint).ok_or(MarginError::MathOverflow)?;
    Ok(totals)
}

/// The settle bank's risk inputs: both init sides for the exact (init-only) checks, every side
/// (the oracle price included, moved by `shock` bps) otherwise. Its price must be usable.
fn settle_risk(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    breakdown: Breakdown,
    shock: i32,
) -> Result<BankRisk> {
    use PriceSide::*;
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let overflow = |_| error!(MarginError::MathOverflow);
    if matches!(breakdown, Breakdown::Totals | Breakdown::Withdrawal) {
        let [init_asset, init_liab] =
            read_bank_price_sides(bank, group, oracle, now, [InitAsset, InitLiability])?;
        let mut risk = bank.risk(0, 0, init_asset, init_liab).map_err(overflow)?;
        if breakdown == Breakdown::Withdrawal {
            if let Some((asset, liab)) = bank.exit_init_weights(now) {
                (risk.init_asset_weight_bps, risk.init_liab_weight_bps) = (asset, liab);
            }
        }
        return Ok(risk);
    }
    let sides = [Mid, Asset, Liability, InitAsset, InitLiability];
    let [mid, asset, liab, init_asset, init_liab] =
        read_bank_price_sides(bank, group, oracle, now, sides)?;
    let risk = bank.risk(asset, liab, init_asset, init_liab).map_err(overflow)?;
    BankRisk { oracle_price: mid, ..risk }.shocked(shock).map_err(overflow)
}

/// A perp slot's init health contribution alone (the exact checks of orders, withdrawals and
/// borrows): its position at its init side, nothing else priced. As [`price_perp`]'s `init`.
#[inline(always)]
fn perp_init_contribution(
    market: &PerpMarket,
    slot: &PerpSlot,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
) -> Result<i128> {
    let position = funded_position(market, slot)?;
    let c = &market.config;
    let mut inputs = PerpHealthInputs {
        long_price: 0,
        short_price: 0,
        base_weight_bps: c.init_base_weight_bps,
        pnl_weight_bps: c.init_pnl_weight_bps,
    };
    // No size: the position is its quote at any price, so it needs no usable price.
    if position.base_lots != 0 {
        let side =
            if position.base_lots > 0 { PriceSide::InitAsset } else { PriceSide::InitLiability };
        let data = oracle_info.try_borrow_data()?;
        let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
        let [price] = read_price_sides(&market.pinned_oracle(), group, oracle, now, [side])?;
        (inputs.long_price, inputs.short_price) = (price, price);
    }
    perp_health(&position, &c.params(), &inputs).map_err(|_| error!(MarginError::MathOverflow))
}

/// The slot's position with the funding accrued in its market applied (compared as stored
/// bytes first: the common case, nothing accrued, skips decoding the indices).
#[inline(always)]
fn funded_position(market: &PerpMarket, slot: &PerpSlot) -> Result<PerpPosition> {
    if slot.funding_long == market.funding_long && slot.funding_short == market.funding_short {
        return Ok(PerpPosition {
            base_lots: slot.base_lots,
            quote_native: slot.quote_native,
            ..Default::default()
        });
    }
    let mut position = slot.position();
    position.apply_funding(&market.funding()).map_err(|_| error!(MarginError::MathOverflow))?;
    Ok(position)
}

/// A perp slot priced for the view, liquidation and write-off: its position with the market's
/// accrued funding applied, at its own init and maint sides (a long at the lower prices, a
/// short at the higher) and the oracle price, each moved by `shock` bps. The price must be
/// usable, unless the position has no size.
fn price_perp(
    market: &PerpMarket,
    slot: &PerpSlot,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shock: i32,
) -> Result<PricedPerp> {
    use PriceSide::*;
    let position = funded_position(market, slot)?;
    let (mut mid, mut maint_price, mut init_price) = (0, 0, 0);
    if position.base_lots != 0 {
        let (maint_side, init_side) =
            if position.base_lots > 0 { (Asset, InitAsset) } else { (Liability, InitLiability) };
        let data = oracle_info.try_borrow_data()?;
        let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
        let sides = [Mid, maint_side, init_side];
        [mid, maint_price, init_price] =
            read_price_sides(&market.pinned_oracle(), group, oracle, now, sides)?;
        if shock != 0 {
            // A long's sides are asset sides (rounded down), a short's liability sides (up).
            let side = if position.base_lots > 0 { Round::Down } else { Round::Up };
            let overflow = |_| error!(MarginError::MathOverflow);
            mid = shock_price(mid, shock, Round::Down).map_err(overflow)?;
            maint_price = shock_price(maint_price, shock, side).map_err(overflow)?;
            init_price = shock_price(init_price, shock, side).map_err(overflow)?;
        }
    }
    let prices = [mid, maint_price, init_price];
    PricedPerp::at(slot, &position, &market.config, prices)
        .map_err(|_| error!(MarginError::MathOverflow))
}

impl PricedPerp {
    /// `slot`'s position (its market's funding applied) priced at `[mid, maint, init]`: the
    /// oracle price and the position's own maint and init sides (a long's lower prices, a
    /// short's higher; all 0 for a position with no size). Pure: the keeper prices a slot with
    /// it too.
    #[inline(always)]
    pub fn at(
        slot: &PerpSlot,
        position: &PerpPosition,
        c: &PerpMarketConfig,
        [mid, maint_price, init_price]: [u128; 3],
    ) -> crate::math::MathResult<Self> {
        let params = c.params();
        let inputs = |price, base_weight_bps, pnl_weight_bps| PerpHealthInputs {
            long_price: price,
            short_price: price,
            base_weight_bps,
            pnl_weight_bps,
        };
        let init = inputs(init_price, c.init_base_weight_bps, c.init_pnl_weight_bps);
        let maint = inputs(maint_price, c.maint_base_weight_bps, c.maint_pnl_weight_bps);
        Ok(PricedPerp {
            market_index: slot.market_index,
            base_lots: position.base_lots,
            quote_native: position.quote_native,
            lp_shares: slot.lp_shares,
            pnl: position.pnl(&params, mid)?,
            maint_pnl: position.pnl(&params, maint_price)?,
            mid_price: mid,
            maint_price,
            init: perp_health(position, &params, &init)?,
            maint: perp_health(position, &params, &maint)?,
        })
    }
}

/// A `PerpMarket` from raw account data, checking owner and discriminator.
pub fn decode_perp_market<'a>(owner: &Pubkey, data: &'a [u8]) -> Result<&'a PerpMarket> {
    require_keys_eq!(*owner, crate::ID, MarginError::HealthPerpMarketMismatch);
    let disc = PerpMarket::DISCRIMINATOR;
    if data.len() < disc.len() + PerpMarket::SIZE || &data[..disc.len()] != disc {
        return err!(MarginError::HealthPerpMarketMismatch);
    }
    bytemuck::try_from_bytes(&data[disc.len()..disc.len() + PerpMarket::SIZE])
        .map_err(|_| error!(MarginError::HealthPerpMarketMismatch))
}

/// The first pair at or after `from` whose bank is `bank_index`'s, checking every bank it passes
/// (a bank of another group, or an account that is not a bank, is still an error).
fn find_pair(
    remaining: &[AccountInfo],
    from: usize,
    bank_index: u16,
    group_key: &Pubkey,
    held: Held,
) -> Result<Option<usize>> {
    for pair in from..remaining.len() / 2 {
        let bank_info = &remaining[2 * pair];
        let index = match held.banks.iter().find(|l| l.key == *bank_info.key) {
            // A held bank is checked too: the preview holds every bank passed.
            Some(held) => {
                require_keys_eq!(held.bank.group, *group_key, MarginError::HealthBankWrongGroup);
                held.bank.bank_index
            }
            None => {
                held.refuse_held_perp(bank_info.key)?;
                let data = bank_info.try_borrow_data()?;
                let bank = decode_bank(bank_info.owner, &data)?;
                require_keys_eq!(bank.group, *group_key, MarginError::HealthBankWrongGroup);
                bank.bank_index
            }
        };
        if index == bank_index {
            return Ok(Some(pair));
        }
    }
    Ok(None)
}

/// A position's init health contribution, pricing only its init side (one normalisation).
#[inline(always)]
fn init_contribution(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    shares: PositionShares,
    withdrawal: bool,
) -> Result<i128> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let risk = match shares {
        PositionShares::Deposit(_) => {
            let [init] = read_bank_price_sides(bank, group, oracle, now, [PriceSide::InitAsset])?;
            bank.risk(0, 0, init, 0)
        }
        PositionShares::Borrow(_) => {
            let sides = [PriceSide::InitLiability];
            let [init] = read_bank_price_sides(bank, group, oracle, now, sides)?;
            bank.risk(0, 0, 0, init)
        }
    };
    let mut risk = risk.map_err(|_| MarginError::MathOverflow)?;
    if withdrawal {
        if let Some((asset, liab)) = bank.exit_init_weights(now) {
            (risk.init_asset_weight_bps, risk.init_liab_weight_bps) = (asset, liab);
        }
    }
    Ok(risk.init_contribution(shares).map_err(|_| MarginError::MathOverflow)?)
}

/// A position priced as liquidation and write-off price it, a dust position with an unusable
/// price let through. Only its own side is normalised (maint and init), and the oracle price only where a
/// liquidation may exchange it (`exchanged`: a bank the instruction holds) or the dust test needs
/// it; elsewhere it stays 0.
fn price_at_last(
    bank: &Bank,
    group: &Group,
    oracle_info: &AccountInfo,
    now: i64,
    (exchanged, shock): (bool, i32),
    bank_index: u16,
    shares: PositionShares,
) -> Result<PricedPosition> {
    let data = oracle_info.try_borrow_data()?;
    let oracle = OracleAccount { key: oracle_info.key, owner: oracle_info.owner, data: &data };
    let (raw, unusable) = read_bank_last_raw(bank, group, oracle, now)?;
    let risk = match shares {
        PositionShares::Deposit(_) => {
            let sides = [PriceSide::Asset, PriceSide::InitAsset];
            let [asset, init] = normalise_last_sides(&raw, &bank.pinned_oracle(), sides)?;
            bank.risk(asset, 0, init, 0)
        }
        PositionShares::Borrow(_) => {
            let sides = [PriceSide::Liability, PriceSide::InitLiability];
            let [liab, init] = normalise_last_sides(&raw, &bank.pinned_oracle(), sides)?;
            bank.risk(0, liab, 0, init)
        }
    };
    let risk = risk.map_err(|_| MarginError::MathOverflow)?;
    let oracle_price = if exchanged || unusable.is_some() {
        normalise_last_sides(&raw, &bank.pinned_oracle(), [PriceSide::Mid])?[0]
    } else {
        0
    };
    let risk =
        BankRisk { oracle_price, ..risk }.shocked(shock).map_err(|_| MarginError::MathOverflow)?;
    let dust = group.bankruptcy_dust_quote;
    Ok(PricedPosition::at_last_price(bank_index, risk, shares, unusable, dust)?)
}

/// A `Bank` from raw account data, checking owner and discriminator.
pub fn decode_bank<'a>(owner: &Pubkey, data: &'a [u8]) -> Result<&'a Bank> {
    require_keys_eq!(*owner, crate::ID, MarginError::HealthBankInvalid);
    let disc = Bank::DISCRIMINATOR;
    if data.len() < disc.len() + Bank::SIZE || &data[..disc.len()] != disc {
        return err!(MarginError::HealthBankInvalid);
    }
    bytemuck::try_from_bytes(&data[disc.len()..disc.len() + Bank::SIZE])
        .map_err(|_| error!(MarginError::HealthBankInvalid))
}
