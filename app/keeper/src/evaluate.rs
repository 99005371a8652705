//! Off-chain health of every account, with the program's own health module (the same
//! `BankRisk::position_health` the program runs), and the ranking of what to act on.
//!
//! An account with perp slots is judged by the program's `PerpTotals::combine`, the perp
//! slots priced as the program prices them (`perps::PerpRisk::price`).
//!
//! This runs over every account of a group each round, so it is written for speed: banks and
//! perp markets are priced once, accounts are read in place, nothing is allocated per account
//! (the priced positions `combine` needs go to one scratch buffer).

use cross_margin::bankruptcy::{can_write_off, can_write_off_account};
use cross_margin::error::MarginError;
use cross_margin::health::{AccountTotals, PositionShares, PricedPosition};
use cross_margin::liquidation::{end_target, is_liquidatable};
use cross_margin::state::MarginAccount;
use cross_margin_client::Pubkey;

use crate::market::{MarketState, Risks};
use crate::perps::PerpSum;

/// What the keeper should do about an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Healthy,
    /// Maint health < 0, or below the end target while a liquidation is under way.
    Liquidatable,
    /// Its debt may be written off (`resolve_bankruptcy`), judged as the program judges it
    /// (`bankruptcy::can_write_off`): deposits below the dust threshold, debt left, and
    /// insolvent now or flagged by the liquidation that exhausted it.
    Bankrupt,
    /// A position's bank has no acceptable price (or is unknown): cannot be judged now.
    Unpriced {
        bank_index: u16,
        error: MarginError,
    },
    /// A perp slot's market has no acceptable price (or is unknown).
    PerpUnpriced {
        market_index: u16,
        error: MarginError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    pub status: Status,
    /// Health and the other totals, from the program's own `AccountTotals`. For a flagged
    /// account judged without its debts' prices, they cover the deposits only.
    pub totals: AccountTotals,
}

/// The health of one account at the banks' prices. `risks` is `MarketState::risks()`: a dust
/// position with an unusable price is let through as the program's liquidation lets it through.
/// Allocates for an account with perp slots; [`assess_with`] does not.
pub fn assess(
    risks: &Risks,
    account: &MarginAccount,
    end_buffer_bps: u32,
    dust_quote: u64,
) -> Assessment {
    assess_with(risks, account, end_buffer_bps, dust_quote, &mut Vec::new())
}

/// [`assess`] with a scratch buffer for the priced positions of an account with perp slots.
///
/// The same decision the program makes, in the same order: `liquidate` refuses an account
/// whose debt may be written off, and `resolve_bankruptcy` prices only the deposits of an
/// account a liquidation flagged, so a dead oracle of the owed token does not block it.
pub fn assess_with(
    risks: &Risks,
    account: &MarginAccount,
    end_buffer_bps: u32,
    dust_quote: u64,
    scratch: &mut Vec<PricedPosition>,
) -> Assessment {
    if account.has_perps() {
        return assess_perps(risks, account, end_buffer_bps, dust_quote, scratch);
    }
    let flagged = account.bankrupt != 0;
    let mut totals = AccountTotals::default();
    let mut unpriced_debt: Option<(u16, MarginError)> = None;
    for position in &account.positions {
        let Some(shares) = position.shares() else { continue };
        let is_debt = matches!(shares, PositionShares::Borrow(_));
        let priced = risks
            .bank(position.bank_index)
            .and_then(|risk| risk.price(position.bank_index, shares, dust_quote))
            .map(|p| p.health);
        let contribution = match priced {
            Ok(contribution) => contribution,
            Err(error) if is_debt && flagged => {
                // Only a write-off can still apply, and it needs no price for the debt.
                totals.has_debt = true;
                unpriced_debt.get_or_insert((position.bank_index, error));
                continue;
            }
            Err(error) => return unpriced(position.bank_index, error, totals),
        };
        if totals.add(&contribution).is_err() {
            return unpriced(position.bank_index, MarginError::MathOverflow, totals);
        }
    }
    if let Some((bank_index, error)) = unpriced_debt {
        let status = if can_write_off(totals.deposits_value, None, true, true, dust_quote) {
            Status::Bankrupt
        } else {
            Status::Unpriced { bank_index, error }
        };
        return Assessment { status, totals };
    }
    judge(account, totals, end_buffer_bps, dust_quote)
}

/// Liquidatable, bankrupt or healthy, from the account's totals, as the program decides.
fn judge(
    account: &MarginAccount,
    totals: AccountTotals,
    end_buffer_bps: u32,
    dust_quote: u64,
) -> Assessment {
    let target = end_target(totals.maint_weighted_liabs, end_buffer_bps);
    let being_liquidated = account.being_liquidated != 0;
    let status = if can_write_off_account(&totals, account.bankrupt != 0, dust_quote) {
        Status::Bankrupt
    } else if is_liquidatable(totals.health.maint, target, being_liquidated) {
        Status::Liquidatable
    } else {
        Status::Healthy
    };
    Assessment { status, totals }
}

/// An account with perp slots, as `liquidate_perp` and `resolve_perp_bankruptcy` judge it:
/// every position priced (the dust rule for tokens; the settle bank and any perp with a size at
/// usable prices), then `PerpTotals::combine`.
fn assess_perps(
    risks: &Risks,
    account: &MarginAccount,
    end_buffer_bps: u32,
    dust_quote: u64,
    scratch: &mut Vec<PricedPosition>,
) -> Assessment {
    let none = AccountTotals::default();
    let (_, Some(settle)) = account.perp_summary() else { unreachable!("has perps") };
    // The settle bank's price must be usable, even for dust (`settle_risk`).
    let bank = |index: u16| match risks.bank(index) {
        Ok(risk) if index == settle => risk.unusable.map_or(Ok(risk), Err),
        other => other,
    };
    scratch.clear();
    for position in account.active_positions() {
        let Some(shares) = position.shares() else { continue };
        let index = position.bank_index;
        match bank(index).and_then(|risk| risk.price(index, shares, dust_quote)) {
            Ok(priced) => scratch.push(priced),
            Err(error) => return unpriced(index, error, none),
        }
    }
    let mut sum = PerpSum::ZERO;
    for slot in account.active_perps() {
        let index = slot.market_index;
        let priced = match risks.perps.get(index as usize) {
            Some(Ok(risk)) => risk.price(slot),
            Some(Err(error)) => Err(*error),
            None => Err(MarginError::HealthPerpMarketMismatch),
        };
        if let Err(error) = priced.and_then(|p| sum.add(&p)) {
            let status = Status::PerpUnpriced { market_index: index, error };
            return Assessment { status, totals: none };
        }
    }
    let totals = bank(settle)
        .and_then(|risk| sum.totals(settle, risk))
        .and_then(|perp| perp.combine(scratch).map_err(|_| MarginError::MathOverflow));
    match totals {
        Ok(totals) => judge(account, totals, end_buffer_bps, dust_quote),
        Err(error) => unpriced(settle, error, none),
    }
}

fn unpriced(bank_index: u16, error: MarginError, totals: AccountTotals) -> Assessment {
    Assessment { status: Status::Unpriced { bank_index, error }, totals }
}

/// An account that needs action, ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub address: Pubkey,
    /// Index into the accounts the evaluation ran over.
    pub index: usize,
    pub assessment: Assessment,
}

/// The result of evaluating every account.
#[derive(Debug, Default, Clone)]
pub struct Evaluation {
    /// Liquidatable accounts, the furthest below zero first.
    pub liquidatable: Vec<Target>,
    pub bankrupt: Vec<Target>,
    /// Accounts that could not be judged, with why.
    pub unpriced: Vec<Target>,
    pub healthy: usize,
}

/// Assesses every account and ranks those that need action: bankrupt ones, then liquidatable
/// ones by maint health, lowest first.
pub fn evaluate(market: &MarketState, accounts: &[(Pubkey, MarginAccount)]) -> Evaluation {
    let risks = market.risks();
    let buffer = market.group.liquidation_end_buffer_bps;
    let dust = market.group.bankruptcy_dust_quote;
    let mut evaluation = Evaluation::default();
    let mut scratch = Vec::with_capacity(cross_margin::constants::MAX_POSITIONS);
    for (index, (address, account)) in accounts.iter().enumerate() {
        let assessment = assess_with(&risks, account, buffer, dust, &mut scratch);
        let target = Target { address: *address, index, assessment };
        match assessment.status {
            Status::Healthy => evaluation.healthy += 1,
            Status::Liquidatable => evaluation.liquidatable.push(target),
            Status::Bankrupt => evaluation.bankrupt.push(target),
            Status::Unpriced { .. } | Status::PerpUnpriced { .. } => {
                evaluation.unpriced.push(target)
            }
        }
    }
    evaluation.liquidatable.sort_by_key(|t| (t.assessment.totals.health.maint, t.address));
    evaluation
}

/// `--shard i/n`: this keeper's share of the accounts, split by key so that keepers running
/// side by side never work on the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn contains(&self, key: &Pubkey) -> bool {
        let bytes = key.to_bytes();
        let word = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        word % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, count) = s.split_once('/').ok_or("expected i/n, e.g. 0/3")?;
        let index: u64 = index.trim().parse().map_err(|_| "shard index is not a number")?;
        let count: u64 = count.trim().parse().map_err(|_| "shard count is not a number")?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= i < n"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::LastRisk;
    use cross_margin::health::BankRisk;
    use cross_margin::math::ONE_Q64;
    use cross_margin::state::{Position, PositionKind};

    const DUST: u64 = 1_000_000; // $1
    const BUFFER: u32 = 500;

    /// A $1 token (6 decimals) with maint weights 0.9 / 1.1 and init 0.8 / 1.2.
    fn dollar() -> LastRisk {
        let risk = BankRisk {
            deposit_index: ONE_Q64,
            borrow_index: ONE_Q64,
            oracle_price: ONE_Q64,
            asset_price: ONE_Q64,
            liab_price: ONE_Q64,
            init_asset_price: ONE_Q64,
            init_liab_price: ONE_Q64,
            init_asset_weight_bps: 8_000,
            maint_asset_weight_bps: 9_000,
            init_liab_weight_bps: 12_000,
            maint_liab_weight_bps: 11_000,
            deposit_weight_scale_start_quote: 0,
            total_deposits_native: 0,
        };
        LastRisk { risk, unusable: None }
    }

    /// An account with a deposit in bank 0 and a borrow in bank 1 (native units = shares).
    fn account(deposit: u64, borrow: u64, flagged: bool) -> MarginAccount {
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        let slot = |bank_index, kind: PositionKind, shares| Position {
            shares,
            bank_index,
            kind: kind as u8,
            padding: [0; 5],
        };
        account.positions[0] = slot(0, PositionKind::Deposit, deposit);
        account.positions[1] = slot(1, PositionKind::Borrow, borrow);
        account.bankrupt = flagged as u8;
        account.being_liquidated = flagged as u8;
        account
    }

    fn risks_of(banks: &[Result<LastRisk, MarginError>]) -> Risks {
        Risks { banks: banks.to_vec(), perps: Vec::new() }
    }

    fn status(risks: &[Result<LastRisk, MarginError>], account: &MarginAccount) -> Status {
        assess(&risks_of(risks), account, BUFFER, DUST).status
    }

    #[test]
    fn a_solvent_dust_account_is_not_bankrupt() {
        // $0.99 of deposits against $0.75 of debt: the program refuses to write it off
        // (NotBankrupt), so the keeper must not try; maint 0.891 − 0.825 > 0: healthy.
        let risks = [Ok(dollar()), Ok(dollar())];
        assert_eq!(status(&risks, &account(990_000, 750_000, false)), Status::Healthy);
        // Insolvent below the dust threshold: a write-off.
        assert_eq!(status(&risks, &account(990_000, 990_001, false)), Status::Bankrupt);
    }

    /// A market of 0.01-token lots, maint base weight 0.9 and PnL weight 0.9, at `price`.
    fn perp_at(price: Result<u128, MarginError>) -> crate::perps::PerpRisk {
        let mut market: cross_margin::state::PerpMarket = bytemuck::Zeroable::zeroed();
        market.config.base_lot_size = 10_000;
        market.config.maint_base_weight_bps = 9_000;
        market.config.init_base_weight_bps = 8_000;
        market.config.maint_pnl_weight_bps = 9_000;
        let price = price.map(|p| crate::perps::PerpPrice {
            mid: p,
            asset: p,
            liab: p,
            init_asset: p,
            init_liab: p,
        });
        crate::perps::PerpRisk { market, price }
    }

    /// $100 in bank 0 and a 10-token long bought for $1,000 in perp market 0.
    fn perp_account(base_lots: i64) -> MarginAccount {
        let mut account: MarginAccount = bytemuck::Zeroable::zeroed();
        account.positions[0] = Position {
            shares: 100_000_000,
            bank_index: 0,
            kind: PositionKind::Deposit as u8,
            padding: [0; 5],
        };
        account.perps[0] = cross_margin::state::PerpSlot {
            base_lots,
            quote_native: -1_000_000_000,
            settle_bank_index: 0,
            active: 1,
            ..Default::default()
        };
        account
    }

    #[test]
    fn an_account_with_perps_is_judged_by_the_combined_settle_balance() {
        // At $95 the long lost $50 and needs $95 of maint margin: the settle balance with it
        // is 100 − 50 − 95 = −$45, a liability at weight 1.1: maint −49.5, though the tokens
        // alone (+$90) are healthy. Equity 100 − 50 > 0: not bankrupt.
        let risks = Risks { banks: vec![Ok(dollar())], perps: vec![Ok(perp_at(Ok(95 * ONE_Q64)))] };
        let assessment = assess(&risks, &perp_account(1_000), BUFFER, DUST);
        assert_eq!(assessment.status, Status::Liquidatable);
        assert_eq!(assessment.totals.health.maint, -49_500_000);
        assert_eq!(assessment.totals.maint_weighted_liabs, 49_500_000);
        assert_eq!(assessment.totals.deposits_value, 50_000_000);
        // At $100 the margin takes the whole deposit: maint 0, not below zero.
        let risks =
            Risks { banks: vec![Ok(dollar())], perps: vec![Ok(perp_at(Ok(100 * ONE_Q64)))] };
        assert_eq!(assess(&risks, &perp_account(1_000), BUFFER, DUST).status, Status::Healthy);
        // Closed at a $1,000 loss with $100: the combined balance (−$900) is all it has, so
        // its collateral is nil and it is insolvent: written off, not liquidated.
        let closed = assess(&risks, &perp_account(0), BUFFER, DUST);
        assert_eq!(closed.status, Status::Bankrupt);
        assert_eq!(closed.totals.liabs_value, 900_000_000);
        // A stale perp price blocks the account; a closed position needs no price.
        let stale = Risks {
            banks: vec![Ok(dollar())],
            perps: vec![Ok(perp_at(Err(MarginError::OracleStale)))],
        };
        assert_eq!(
            assess(&stale, &perp_account(1_000), BUFFER, DUST).status,
            Status::PerpUnpriced { market_index: 0, error: MarginError::OracleStale }
        );
        assert_eq!(assess(&stale, &perp_account(0), BUFFER, DUST).status, Status::Bankrupt);
        // The settle bank's price must be usable even for dust.
        let unusable = LastRisk { unusable: Some(MarginError::OracleStale), ..dollar() };
        let risks = Risks { banks: vec![Ok(unusable)], perps: vec![Ok(perp_at(Ok(ONE_Q64)))] };
        assert_eq!(
            assess(&risks, &perp_account(0), BUFFER, DUST).status,
            Status::Unpriced { bank_index: 0, error: MarginError::OracleStale }
        );
    }

    #[test]
    fn a_flagged_account_whose_collateral_came_back_is_liquidated_not_written_off() {
        // Flagged by an earlier liquidation, but now holding $500 against $480 of debt: maint
        // 450 − 528 < 0. The program refuses a write-off above the dust threshold, and
        // liquidates it.
        let risks = [Ok(dollar()), Ok(dollar())];
        let recovered = account(500_000_000, 480_000_000, true);
        assert_eq!(status(&risks, &recovered), Status::Liquidatable);
        // Still below the dust threshold: written off, whatever the debt's value.
        assert_eq!(status(&risks, &account(10, 5, true)), Status::Bankrupt);
    }

    #[test]
    fn a_flagged_account_is_written_off_without_a_price_for_its_debt() {
        // The debt's oracle is stale: resolve_bankruptcy prices only a flagged account's
        // deposits, so the keeper can still write it off.
        let risks = [Ok(dollar()), Err(MarginError::OracleStale)];
        assert_eq!(status(&risks, &account(10, 5_000_000, true)), Status::Bankrupt);
        // With collateral above the dust threshold it cannot be judged without that price.
        assert_eq!(
            status(&risks, &account(5_000_000, 5_000_000, true)),
            Status::Unpriced { bank_index: 1, error: MarginError::OracleStale }
        );
        // An account no liquidation flagged needs every price.
        assert_eq!(
            status(&risks, &account(10, 5_000_000, false)),
            Status::Unpriced { bank_index: 1, error: MarginError::OracleStale }
        );
        // A dead collateral oracle blocks any judgement.
        let risks = [Err(MarginError::OracleStale), Ok(dollar())];
        assert_eq!(
            status(&risks, &account(10, 5_000_000, true)),
            Status::Unpriced { bank_index: 0, error: MarginError::OracleStale }
        );
    }

    #[test]
    fn the_end_target_keeps_a_flagged_account_liquidatable() {
        // maint 0.9 × 1,000 − 1.1 × 800 = $20 > 0, but below 5% × 880 = $44 of target.
        let risks = [Ok(dollar()), Ok(dollar())];
        let mut account = account(1_000_000_000, 800_000_000, false);
        assert_eq!(status(&risks, &account), Status::Healthy);
        account.being_liquidated = 1;
        let assessment = assess(&risks_of(&risks), &account, BUFFER, DUST);
        assert_eq!(assessment.status, Status::Liquidatable);
        assert_eq!(assessment.totals.health.maint, 20_000_000);
        assert_eq!(assessment.totals.maint_weighted_liabs, 880_000_000);
    }

    /// M-2: a dust position with an unusable price is judged as the program's liquidation
    /// judges it: a deposit counts for nothing, and the account can still be liquidated.
    #[test]
    fn m2_a_dust_deposit_with_a_stale_price_does_not_hide_an_account() {
        let stale = LastRisk { unusable: Some(MarginError::OracleStale), ..dollar() };
        // $1,000 against $950 of debt in bank 1, and 5 micro-USD deposited in a third, stale
        // bank 2.
        let mut account = account(1_000_000_000, 950_000_000, false);
        let slot = account.positions.iter().position(|p| p.shares().is_none()).unwrap();
        account.positions[slot] = Position {
            shares: 5,
            bank_index: 2,
            kind: PositionKind::Deposit as u8,
            padding: [0; 5],
        };
        let risks = [Ok(dollar()), Ok(dollar()), Ok(stale)];
        let assessment = assess(&risks_of(&risks), &account, BUFFER, DUST);
        assert_eq!(assessment.status, Status::Liquidatable);
        assert_eq!(assessment.totals.health.maint, 900_000_000 - 1_045_000_000);
        // $5 of it is not dust: the account waits for the price.
        account.positions[slot].shares = 5_000_000;
        assert_eq!(
            assess(&risks_of(&risks), &account, BUFFER, DUST).status,
            Status::Unpriced { bank_index: 2, error: MarginError::OracleStale }
        );
    }

    /// A market of two $1 banks with `dollar()`'s weights.
    fn market() -> MarketState {
        let bank = |index: u16| {
            let mut bank: cross_margin::state::Bank = bytemuck::Zeroable::zeroed();
            bank.bank_index = index;
            bank.set_deposit_index(ONE_Q64);
            bank.set_borrow_index(ONE_Q64);
            let risk = dollar().risk;
            bank.config.init_asset_weight_bps = risk.init_asset_weight_bps;
            bank.config.maint_asset_weight_bps = risk.maint_asset_weight_bps;
            bank.config.init_liab_weight_bps = risk.init_liab_weight_bps;
            bank.config.maint_liab_weight_bps = risk.maint_liab_weight_bps;
            let price = cross_margin::oracle::OraclePrice {
                price: ONE_Q64,
                asset_price: ONE_Q64,
                liab_price: ONE_Q64,
                init_asset_price: ONE_Q64,
                init_liab_price: ONE_Q64,
                publish_time: 0,
            };
            let address = Pubkey::new_from_array([100 + index as u8; 32]);
            let last = cross_margin::oracle::LastPrice { price, unusable: None };
            Some(crate::market::BankState { address, bank, price: Ok(price), last: Ok(last) })
        };
        let mut group: cross_margin::state::Group = bytemuck::Zeroable::zeroed();
        group.liquidation_end_buffer_bps = BUFFER;
        group.bankruptcy_dust_quote = DUST;
        MarketState {
            group_address: Pubkey::new_from_array([9; 32]),
            group,
            banks: vec![bank(0), bank(1)],
            perps: Vec::new(),
            now: 0,
        }
    }

    #[test]
    fn evaluation_ranks_liquidatable_accounts_lowest_health_first() {
        // $1,000 of collateral each against debts of 850, 950, 700 and 900, and an insolvent
        // dust account.
        let debts = [850u64, 950, 700, 900];
        let mut accounts: Vec<(Pubkey, MarginAccount)> = debts
            .iter()
            .enumerate()
            .map(|(i, &debt)| {
                let key = Pubkey::new_from_array([i as u8 + 1; 32]);
                (key, account(1_000_000_000, debt * 1_000_000, false))
            })
            .collect();
        accounts.push((Pubkey::new_from_array([7; 32]), account(10, 20, false)));
        let evaluation = evaluate(&market(), &accounts);
        // maint: 900 − 1.1 × debt → −35, −145, +130, −90.
        let ranked: Vec<(u8, i128)> = evaluation
            .liquidatable
            .iter()
            .map(|t| (t.address.to_bytes()[0], t.assessment.totals.health.maint))
            .collect();
        assert_eq!(ranked, vec![(2, -145_000_000), (4, -90_000_000), (1, -35_000_000)]);
        assert_eq!(evaluation.healthy, 1);
        assert_eq!(evaluation.bankrupt.len(), 1);
        assert_eq!(evaluation.bankrupt[0].address, Pubkey::new_from_array([7; 32]));
        assert!(evaluation.unpriced.is_empty());
    }

    #[test]
    fn shards_partition_the_keys() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for i in 0..300u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            let key = Pubkey::new_from_array(bytes);
            assert_eq!(shards.iter().filter(|s| s.contains(&key)).count(), 1);
        }
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert!("3/3".parse::<Shard>().is_err());
        assert!("0/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
