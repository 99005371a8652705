//! A group as the keeper sees it: the group, its banks by index, each bank's validated price at
//! the chain's time, and the margin accounts. Decoded with the program crate's own types; the
//! prices are read by the program's own oracle code, so a price the program would refuse
//! (stale, unconfident, wrong feed) is refused here too, with the same named error.

use std::collections::HashMap;

use anchor_lang::{Discriminator, Owner};
use cross_margin::error::MarginError;
use cross_margin::health::{BankRisk, PositionShares, PricedPosition};
use cross_margin::oracle::{read_bank_last_price, LastPrice, OracleAccount, OraclePrice};
use cross_margin::state::{Bank, Group, MarginAccount, PerpMarket};
use cross_margin_client::ix::BankRef;
use cross_margin_client::Pubkey;

use crate::backend::AccountData;
use crate::perps::{PerpMarketState, PerpRisk};

/// Offset of `MarginAccount::group` in the account data (after the discriminator): the
/// getProgramAccounts filter that selects one group's accounts.
pub const ACCOUNT_GROUP_OFFSET: usize = 8;
/// Offset of `Bank::group`, likewise.
pub const BANK_GROUP_OFFSET: usize = 8;

/// Why an account could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    WrongOwner,
    WrongDiscriminator,
    TooShort,
    UnknownVersion(u8),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WrongOwner => f.write_str("not owned by the cross_margin program"),
            Self::WrongDiscriminator => f.write_str("wrong account discriminator"),
            Self::TooShort => f.write_str("account data too short"),
            Self::UnknownVersion(v) => write!(f, "unknown layout version {v}"),
        }
    }
}

/// Decodes a zero-copy account of the program from raw account data (copying it, so the data
/// need not be aligned).
pub fn decode<T>(account: &AccountData) -> Result<T, DecodeError>
where
    T: bytemuck::Pod + Discriminator + Owner,
{
    if account.owner != T::owner() {
        return Err(DecodeError::WrongOwner);
    }
    let disc = T::DISCRIMINATOR;
    if !account.data.starts_with(disc) {
        return Err(DecodeError::WrongDiscriminator);
    }
    let bytes = account
        .data
        .get(disc.len()..disc.len() + core::mem::size_of::<T>())
        .ok_or(DecodeError::TooShort)?;
    Ok(bytemuck::pod_read_unaligned(bytes))
}

/// A margin account, decoded and checked against the layout version the keeper understands.
pub fn decode_margin_account(account: &AccountData) -> Result<MarginAccount, DecodeError> {
    let decoded: MarginAccount = decode(account)?;
    if decoded.version != cross_margin::constants::ACCOUNT_VERSION {
        return Err(DecodeError::UnknownVersion(decoded.version));
    }
    Ok(decoded)
}

/// One bank with its price, if the program would accept it now.
#[derive(Debug, Clone)]
pub struct BankState {
    pub address: Pubkey,
    pub bank: Bank,
    /// The price as the program's health checks accept it (usable, or the oracle's error).
    pub price: Result<OraclePrice, MarginError>,
    /// The price as liquidation and write-off read it: the last published one, with why it is
    /// unusable (`cross_margin::oracle::read_bank_last_price`).
    pub last: Result<LastPrice, MarginError>,
}

/// A bank's risk inputs as liquidation and write-off price its positions: at the last published
/// price (the oracle price set), with why that price is unusable, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRisk {
    pub risk: BankRisk,
    pub unusable: Option<MarginError>,
}

impl LastRisk {
    pub fn new(bank: &Bank, last: &LastPrice) -> Result<Self, MarginError> {
        let risk = bank.risk_at(&last.price).map_err(|_| MarginError::MathOverflow)?;
        Ok(Self {
            risk: BankRisk { oracle_price: last.price.price, ..risk },
            unusable: last.unusable,
        })
    }

    /// A position priced as the program's liquidation prices it (`PricedPosition::at_last_price`).
    pub fn price(
        &self,
        bank_index: u16,
        shares: PositionShares,
        dust_quote: u64,
    ) -> Result<PricedPosition, MarginError> {
        PricedPosition::at_last_price(bank_index, self.risk, shares, self.unusable, dust_quote)
    }
}

impl BankState {
    pub fn bank_ref(&self) -> BankRef {
        BankRef::from_bank(self.address, &self.bank)
    }

    /// The bank's risk inputs with both sides priced, at its stored indices (as the program's
    /// health check reads a bank it does not modify), or the oracle's error.
    pub fn risk(&self) -> Result<BankRisk, MarginError> {
        let price = self.price.as_ref().map_err(|e| *e)?;
        self.bank.risk_at(price).map_err(|_| MarginError::MathOverflow)
    }

    /// The bank with interest accrued to `now`, as the next instruction touching it will see it.
    pub fn accrued(&self, now: i64) -> Result<Bank, MarginError> {
        let mut bank = self.bank;
        bank.accrue_interest(now).map_err(|_| MarginError::MathOverflow)?;
        Ok(bank)
    }
}

/// The group's state at one moment.
#[derive(Debug, Clone)]
pub struct MarketState {
    pub group_address: Pubkey,
    pub group: Group,
    /// Banks by `bank_index` (`None` for an index no bank was found for).
    pub banks: Vec<Option<BankState>>,
    /// Perp markets by `market_index` (`None` for an index no market was found for).
    pub perps: Vec<Option<PerpMarketState>>,
    /// The chain's unix time the prices were validated at.
    pub now: i64,
}

/// Every bank's and perp market's risk inputs, priced once per round (`MarketState::risks`).
#[derive(Debug, Clone)]
pub struct Risks {
    /// By bank index.
    pub banks: Vec<Result<LastRisk, MarginError>>,
    /// By perp market index.
    pub perps: Vec<Result<PerpRisk, MarginError>>,
}

impl Risks {
    /// Bank `index`'s risk, or why it has none.
    pub fn bank(&self, index: u16) -> Result<&LastRisk, MarginError> {
        match self.banks.get(index as usize) {
            Some(Ok(risk)) => Ok(risk),
            Some(Err(error)) => Err(*error),
            None => Err(MarginError::HealthBankInvalid),
        }
    }
}

impl MarketState {
    /// Builds the state from raw accounts: the group, its banks, and the oracle accounts by key.
    /// Banks that do not decode are left out and reported.
    pub fn from_accounts(
        group_address: Pubkey,
        group: &AccountData,
        banks: &[(Pubkey, AccountData)],
        oracles: &HashMap<Pubkey, AccountData>,
        now: i64,
    ) -> Result<(Self, Vec<(Pubkey, DecodeError)>), DecodeError> {
        Self::build(group_address, group, banks, oracles, now, false)
    }

    /// The market as it will be once every queued configuration change applies (the group's and
    /// each bank's, re-pinned oracles included: `oracles` must hold them), priced at `now`: what
    /// the keeper warns about before a change takes effect.
    pub fn after_pending_changes(
        group_address: Pubkey,
        group: &AccountData,
        banks: &[(Pubkey, AccountData)],
        oracles: &HashMap<Pubkey, AccountData>,
        now: i64,
    ) -> Result<Self, DecodeError> {
        Ok(Self::build(group_address, group, banks, oracles, now, true)?.0)
    }

    fn build(
        group_address: Pubkey,
        group: &AccountData,
        banks: &[(Pubkey, AccountData)],
        oracles: &HashMap<Pubkey, AccountData>,
        now: i64,
        pending_applied: bool,
    ) -> Result<(Self, Vec<(Pubkey, DecodeError)>), DecodeError> {
        let mut group_state: Group = decode(group)?;
        if pending_applied {
            group_state = group_state.with_pending_change();
        }
        let mut states: Vec<Option<BankState>> = vec![None; group_state.bank_count as usize];
        let mut undecodable = Vec::new();
        for (address, raw) in banks {
            let bank: Bank = match decode(raw) {
                Ok(bank) => bank,
                Err(e) => {
                    undecodable.push((*address, e));
                    continue;
                }
            };
            if bank.group != group_address {
                continue;
            }
            let bank = if pending_applied { bank.with_pending_change() } else { bank };
            let last = match oracles.get(&bank.oracle) {
                Some(oracle) => read_bank_last_price(
                    &bank,
                    &group_state,
                    OracleAccount { key: &bank.oracle, owner: &oracle.owner, data: &oracle.data },
                    now,
                ),
                None => Err(MarginError::OracleAccountMismatch),
            };
            let price = last.and_then(|l| l.unusable.map_or(Ok(l.price), Err));
            let index = bank.bank_index as usize;
            if index >= states.len() {
                states.resize(index + 1, None);
            }
            states[index] = Some(BankState { address: *address, bank, price, last });
        }
        let state =
            Self { group_address, group: group_state, banks: states, perps: Vec::new(), now };
        Ok((state, undecodable))
    }

    /// Adds the group's perp markets (`markets`, raw) priced by their oracles in `oracles`;
    /// `pending_applied` as for the banks. Returns the markets that do not decode.
    pub fn add_perp_markets(
        &mut self,
        markets: &[(Pubkey, AccountData)],
        oracles: &HashMap<Pubkey, AccountData>,
        pending_applied: bool,
    ) -> Vec<(Pubkey, DecodeError)> {
        let mut undecodable = Vec::new();
        for (address, raw) in markets {
            let market: PerpMarket = match decode(raw) {
                Ok(market) => market,
                Err(e) => {
                    undecodable.push((*address, e));
                    continue;
                }
            };
            if market.group != self.group_address {
                continue;
            }
            let market = if pending_applied { market.with_pending_change() } else { market };
            let index = market.market_index as usize;
            if index >= self.perps.len() {
                self.perps.resize(index + 1, None);
            }
            let oracle = oracles.get(&market.oracle);
            let state = PerpMarketState::new(*address, market, &self.group, oracle, self.now);
            self.perps[index] = Some(state);
        }
        undecodable
    }

    pub fn bank(&self, index: u16) -> Option<&BankState> {
        self.banks.get(index as usize).and_then(Option::as_ref)
    }

    pub fn bank_ref(&self, index: u16) -> Option<BankRef> {
        self.bank(index).map(BankState::bank_ref)
    }

    /// Every bank's risk inputs by index, as liquidation prices them, with interest accrued to
    /// `now`, or the reason it cannot be priced at all. Interest is only written into a bank
    /// when an instruction touches it; judging accounts at stored indices would miss debt that
    /// has grown since (a quiet bank at a high rate), while `liquidate` accrues the banks it
    /// moves first.
    /// Perp markets likewise have their funding accrued to now (`MarketState::perp_risks`).
    pub fn risks(&self) -> Risks {
        let banks = self
            .banks
            .iter()
            .map(|b| {
                let state = b.as_ref().ok_or(MarginError::HealthBankInvalid)?;
                let last = state.last.as_ref().map_err(|e| *e)?;
                LastRisk::new(&state.accrued(self.now)?, last)
            })
            .collect();
        Risks { banks, perps: self.perp_risks() }
    }

    /// The oracle accounts of every bank and perp market.
    pub fn oracle_keys(&self) -> Vec<Pubkey> {
        let banks = self.banks.iter().flatten().map(|b| b.bank.oracle);
        banks.chain(self.perps.iter().flatten().map(|p| p.market.oracle)).collect()
    }

    /// Whether the group or any bank has a configuration change queued.
    pub fn has_pending_changes(&self) -> bool {
        self.group.pending.is_queued()
            || self.banks.iter().flatten().any(|b| b.bank.pending.is_queued())
            || self.perps.iter().flatten().any(|p| p.market.pending.is_queued())
    }
}
