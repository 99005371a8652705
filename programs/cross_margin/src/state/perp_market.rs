use anchor_lang::prelude::*;

use crate::constants::PERP_MARKET_SEED;
use crate::error::MarginError;
use crate::math::BPS;
use crate::oracle::PinnedOracle;
use crate::perp::{FundingIndices, PerpParams};
use crate::state::Group;

/// Everything an admin sets on a perp market (the `add_perp_market` / `configure_perp_market`
/// argument), stored as is in [`PerpMarket::config`]. Weights and fees in bps (10,000 = 1.0).
///
/// Plain old data with explicit padding (its Borsh encoding is its layout): 128 bytes.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | oracle_feed_id |
/// | 32 | 4×16 | oracle_max_age_secs, oracle_max_conf_bps, oracle_conf_multiplier_bps, init/maint base weight, init/maint pnl weight, taker_fee_bps, impact_coeff_bps, max_impact_bps, funding_coeff_bps, max_funding_bps_per_day, pool_funding_share_bps, liquidation_fee_bps, insurance_fee_bps, pool_cover_bps |
/// | 96 | 1 | oracle_kind |
/// | 97 | 1 | base_decimals |
/// | 98 | 6 | padding (zero) |
/// | 104 | 8 | base_lot_size |
/// | 112 | 8 | max_long_lots |
/// | 120 | 8 | max_short_lots |
#[derive(
    AnchorSerialize,
    AnchorDeserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(C)]
pub struct PerpMarketConfig {
    /// Pyth feed id the oracle account must carry (pull oracle).
    pub oracle_feed_id: [u8; 32],
    pub oracle_max_age_secs: u32,
    pub oracle_max_conf_bps: u32,
    pub oracle_conf_multiplier_bps: u32,
    /// Leverage: a position needs `(1 − base weight) × |notional|` of margin (init, maint).
    pub init_base_weight_bps: u32,
    pub maint_base_weight_bps: u32,
    /// Weight of unsettled positive PnL in health (at most 1.0; init may be 0).
    pub init_pnl_weight_bps: u32,
    pub maint_pnl_weight_bps: u32,
    pub taker_fee_bps: u32,
    pub impact_coeff_bps: u32,
    pub max_impact_bps: u32,
    pub funding_coeff_bps: u32,
    pub max_funding_bps_per_day: u32,
    pub pool_funding_share_bps: u32,
    /// For perp liquidation (issue 17); stored and validated now.
    pub liquidation_fee_bps: u32,
    pub insurance_fee_bps: u32,
    /// An LP withdrawal must leave the pool worth at least this share of the larger side's
    /// open-interest notional (bps).
    pub pool_cover_bps: u32,
    /// 0 = Pyth pull, 1 = Pyth legacy.
    pub oracle_kind: u8,
    /// Decimals of the base asset: the oracle price is per native unit of 10^-decimals.
    pub base_decimals: u8,
    pub padding: [u8; 6],
    /// Base native units per lot.
    pub base_lot_size: u64,
    /// Open-interest caps per side, in lots.
    pub max_long_lots: u64,
    pub max_short_lots: u64,
}

const _: () = assert!(core::mem::size_of::<PerpMarketConfig>() == 128);

/// Highest taker fee, price impact, or liquidation/insurance fee accepted (10%).
const MAX_PERP_FEE_BPS: u32 = 1_000;
/// Highest funding rate accepted (10% a day).
const MAX_FUNDING_BPS_PER_DAY: u32 = 1_000;

impl PerpMarketConfig {
    pub fn validate(&self) -> Result<()> {
        crate::oracle::validate_settings(
            self.oracle_kind,
            self.oracle_max_age_secs,
            self.oracle_max_conf_bps,
            self.oracle_conf_multiplier_bps,
        )?;
        require!(
            self.base_lot_size > 0 && self.base_decimals <= crate::constants::MAX_MINT_DECIMALS,
            MarginError::InvalidPerpLotSize
        );
        require!(
            0 < self.init_base_weight_bps
                && self.init_base_weight_bps <= self.maint_base_weight_bps
                && self.maint_base_weight_bps < BPS
                && self.init_pnl_weight_bps <= self.maint_pnl_weight_bps
                && self.maint_pnl_weight_bps <= BPS,
            MarginError::InvalidRiskWeights
        );
        require!(
            self.taker_fee_bps <= MAX_PERP_FEE_BPS
                && self.max_impact_bps <= MAX_PERP_FEE_BPS
                && self.liquidation_fee_bps <= MAX_PERP_FEE_BPS
                && self.insurance_fee_bps <= MAX_PERP_FEE_BPS
                && self.pool_funding_share_bps <= BPS
                && self.max_funding_bps_per_day <= MAX_FUNDING_BPS_PER_DAY,
            MarginError::InvalidFee
        );
        // With a cover, the last LP can only leave once no position is open: a pool without
        // LPs never carries risk nobody owns.
        require!(
            0 < self.pool_cover_bps && self.pool_cover_bps <= BPS,
            MarginError::InvalidPoolCover
        );
        // A liquidation must not pay out more than the margin it frees (issue 17's rule, kept
        // from the start): fees below the maint margin.
        require!(
            self.liquidation_fee_bps + self.insurance_fee_bps < BPS - self.maint_base_weight_bps,
            MarginError::LiquidationFeeTooHigh
        );
        require!(
            i64::try_from(self.max_long_lots).is_ok() && i64::try_from(self.max_short_lots).is_ok(),
            MarginError::InvalidPerpLotSize
        );
        Ok(())
    }

    pub fn validate_oracle(&self, group: &Group, oracle: &AccountInfo) -> Result<()> {
        crate::oracle::validate_account(
            group,
            self.oracle_kind,
            &self.oracle_feed_id,
            self.oracle_max_age_secs,
            oracle,
        )
    }

    /// What the pure perp maths needs.
    pub fn params(&self) -> PerpParams {
        PerpParams {
            base_lot_size: self.base_lot_size,
            taker_fee_bps: self.taker_fee_bps,
            impact_coeff_bps: self.impact_coeff_bps,
            max_impact_bps: self.max_impact_bps,
            funding_coeff_bps: self.funding_coeff_bps,
            max_funding_bps_per_day: self.max_funding_bps_per_day,
            pool_funding_share_bps: self.pool_funding_share_bps,
        }
    }

    /// Replaces the market's configuration and pinned oracle (padding stored as zero): the one
    /// writer for `add_perp_market`, the applied changes and the preview.
    pub fn apply(&self, market: &mut PerpMarket, oracle: Pubkey) {
        market.oracle = oracle;
        market.config = PerpMarketConfig { padding: [0; 6], ..*self };
    }

    /// Whether replacing `old` (pinned to `old_oracle`) by `self` must be queued in a live
    /// group: true unless it only tightens new risk (lower init base or pnl weight, lower caps)
    /// and changes nothing else.
    pub fn needs_delay(&self, old: &Self, old_oracle: &Pubkey, new_oracle: &Pubkey) -> bool {
        let tightens_only = self.init_base_weight_bps <= old.init_base_weight_bps
            && self.init_pnl_weight_bps <= old.init_pnl_weight_bps
            && self.max_long_lots <= old.max_long_lots
            && self.max_short_lots <= old.max_short_lots;
        let rest_unchanged = PerpMarketConfig {
            init_base_weight_bps: old.init_base_weight_bps,
            init_pnl_weight_bps: old.init_pnl_weight_bps,
            max_long_lots: old.max_long_lots,
            max_short_lots: old.max_short_lots,
            padding: old.padding,
            ..*self
        } == *old;
        !(tightens_only && rest_unchanged && old_oracle == new_oracle)
    }
}

/// A queued `configure_perp_market`: the whole new configuration and pinned oracle. 168 bytes:
/// apply_after_ts @0 (0 = nothing queued), oracle @8, config @40.
#[derive(
    AnchorSerialize,
    AnchorDeserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[repr(C)]
pub struct PendingPerpChange {
    pub apply_after_ts: i64,
    pub oracle: Pubkey,
    pub config: PerpMarketConfig,
}

impl PendingPerpChange {
    pub fn is_queued(&self) -> bool {
        self.apply_after_ts != 0
    }
}

/// One perpetual futures market of a group: its pinned oracle, settle bank, configuration,
/// open interest, funding indices, traders' aggregates and liquidity pool.
///
/// Layout v1 (after the 8-byte discriminator), 576 bytes; signed 128-bit numbers are stored as
/// little-endian `[u8; 16]` so the struct needs only 8-byte alignment.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | group |
/// | 32 | 32 | oracle |
/// | 64 | 32 | settle_bank |
/// | 96 | 128 | config ([`PerpMarketConfig`]) |
/// | 224 | 2 | market_index |
/// | 226 | 2 | settle_bank_index |
/// | 228 | 1 | version |
/// | 229 | 1 | bump |
/// | 230 | 2 | padding |
/// | 232 | 8 | long_lots |
/// | 240 | 8 | short_lots |
/// | 248 | 8 | last_funding_ts |
/// | 256 | 16 | funding_long (i128, Q64.64 per lot) |
/// | 272 | 16 | funding_short |
/// | 288 | 16 | quote_sum (i128) |
/// | 304 | 16 | funding_unapplied (i128, Q64.64) |
/// | 320 | 8 | pool_deposit_shares |
/// | 328 | 8 | lp_shares |
/// | 336 | 8 | fees_accrued |
/// | 344 | 168 | pending ([`PendingPerpChange`]) |
/// | 512 | 8 | insurance_deposit_shares |
/// | 520 | 8 | socialised_loss |
/// | 528 | 48 | reserved (zero) |
///
/// (Issue 17 carved `insurance_deposit_shares` and `socialised_loss` from the reserved bytes:
/// zero in a market created before, which is what they mean there.)
#[account(zero_copy)]
#[derive(Debug)]
pub struct PerpMarket {
    pub group: Pubkey,
    /// The one price account this market accepts.
    pub oracle: Pubkey,
    /// The bank PnL settles in (its token is the quote: 6 decimals, one token = one quote unit).
    pub settle_bank: Pubkey,
    pub config: PerpMarketConfig,
    pub market_index: u16,
    pub settle_bank_index: u16,
    pub version: u8,
    pub bump: u8,
    pub padding: [u8; 2],
    /// Open interest: the sum of long positions and of short positions, in lots.
    pub long_lots: u64,
    pub short_lots: u64,
    pub last_funding_ts: i64,
    pub funding_long: [u8; 16],
    pub funding_short: [u8; 16],
    /// The sum of every position's quote (open or closed, until settled), settle native units.
    pub quote_sum: [u8; 16],
    /// Funding the positions owe (+) or are owed (−) but have not yet applied, Q64.64.
    pub funding_unapplied: [u8; 16],
    /// The pool's deposit in the settle bank, as deposit shares (counted in the bank's
    /// `total_deposit_shares`).
    pub pool_deposit_shares: u64,
    /// Pool shares held by LPs (in their margin accounts' perp slots).
    pub lp_shares: u64,
    /// Fees charged since the market opened (settle native units; part of the pool's PnL).
    pub fees_accrued: u64,
    pub pending: PendingPerpChange,
    /// The market's insurance fund: deposit shares in the settle bank (counted in its
    /// `total_deposit_shares`), paid by liquidations' insurance fees and `fund_perp_insurance`;
    /// it pays a bankrupt account's loss to the pool before the LPs bear it.
    pub insurance_deposit_shares: u64,
    /// Losses of bankrupt accounts the pool's LPs bore (settle native units, cumulative).
    pub socialised_loss: u64,
    pub reserved: [u8; 48],
}

const _: () = assert!(PerpMarket::SIZE == 576);

fn get_i128(bytes: &[u8; 16]) -> i128 {
    i128::from_le_bytes(*bytes)
}

impl PerpMarket {
    pub const SIZE: usize = core::mem::size_of::<PerpMarket>();

    pub fn address(group: &Pubkey, market_index: u16) -> (Pubkey, u8) {
        Pubkey::find_program_address(
            &[PERP_MARKET_SEED, group.as_ref(), &market_index.to_le_bytes()],
            &crate::ID,
        )
    }

    pub fn pinned_oracle(&self) -> PinnedOracle<'_> {
        PinnedOracle {
            key: &self.oracle,
            kind: self.config.oracle_kind,
            feed_id: &self.config.oracle_feed_id,
            max_age_secs: self.config.oracle_max_age_secs,
            max_conf_bps: self.config.oracle_max_conf_bps,
            conf_multiplier_bps: self.config.oracle_conf_multiplier_bps,
            decimals: self.config.base_decimals,
        }
    }

    pub fn funding(&self) -> FundingIndices {
        FundingIndices { long: get_i128(&self.funding_long), short: get_i128(&self.funding_short) }
    }

    pub fn set_funding(&mut self, indices: &FundingIndices) {
        self.funding_long = indices.long.to_le_bytes();
        self.funding_short = indices.short.to_le_bytes();
    }

    pub fn quote_sum(&self) -> i128 {
        get_i128(&self.quote_sum)
    }

    pub fn set_quote_sum(&mut self, value: i128) {
        self.quote_sum = value.to_le_bytes();
    }

    pub fn funding_unapplied(&self) -> i128 {
        get_i128(&self.funding_unapplied)
    }

    pub fn set_funding_unapplied(&mut self, value: i128) {
        self.funding_unapplied = value.to_le_bytes();
    }

    /// Long minus short open interest, lots.
    pub fn skew_lots(&self) -> core::result::Result<i64, MarginError> {
        let long = i64::try_from(self.long_lots).map_err(|_| MarginError::MathOverflow)?;
        let short = i64::try_from(self.short_lots).map_err(|_| MarginError::MathOverflow)?;
        long.checked_sub(short).ok_or(MarginError::MathOverflow)
    }

    /// The market as it will be once its queued change (if any) applies.
    pub fn with_pending_change(&self) -> PerpMarket {
        let mut market = *self;
        if self.pending.is_queued() {
            self.pending.config.apply(&mut market, self.pending.oracle);
            market.pending = bytemuck::Zeroable::zeroed();
        }
        market
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn perp_market_layout_v1_offsets() {
        assert_eq!(offset_of!(PerpMarketConfig, oracle_kind), 96);
        assert_eq!(offset_of!(PerpMarketConfig, base_lot_size), 104);
        assert_eq!(offset_of!(PerpMarketConfig, max_short_lots), 120);
        assert_eq!(offset_of!(PerpMarket, config), 96);
        assert_eq!(offset_of!(PerpMarket, market_index), 224);
        assert_eq!(offset_of!(PerpMarket, long_lots), 232);
        assert_eq!(offset_of!(PerpMarket, last_funding_ts), 248);
        assert_eq!(offset_of!(PerpMarket, funding_long), 256);
        assert_eq!(offset_of!(PerpMarket, quote_sum), 288);
        assert_eq!(offset_of!(PerpMarket, funding_unapplied), 304);
        assert_eq!(offset_of!(PerpMarket, pool_deposit_shares), 320);
        assert_eq!(offset_of!(PerpMarket, fees_accrued), 336);
        assert_eq!(offset_of!(PerpMarket, pending), 344);
        assert_eq!(offset_of!(PerpMarket, insurance_deposit_shares), 512);
        assert_eq!(offset_of!(PerpMarket, socialised_loss), 520);
        assert_eq!(offset_of!(PerpMarket, reserved), 528);
    }
}
