use anchor_lang::prelude::*;

use crate::constants::{BANK_SEED, SECONDS_PER_YEAR, VAULT_SEED};
use crate::error::MarginError;
use crate::health::BankRisk;
use crate::math::{mul_q64, mul_q64_wide, MathResult, Round, BPS, ONE_Q64};
use crate::state::{Group, PendingBankChange};

/// Which oracle format a bank reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OracleKind {
    /// Pyth pull oracle: `PriceUpdateV2` accounts of the Pyth receiver program.
    PythPull = 0,
    /// Pyth legacy push oracle: price accounts read with `pyth-sdk-solana`.
    PythLegacy = 1,
}

impl OracleKind {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::PythPull),
            1 => Some(Self::PythLegacy),
            _ => None,
        }
    }
}

/// Everything an admin sets on a bank (the `add_bank` / `configure_bank` argument), stored as is
/// in [`Bank::config`]. Weights, fees and rates are in bps (10_000 = 1.0; rates are APRs).
///
/// Plain old data with explicit padding, so the same bytes are its Borsh encoding (the
/// instruction argument) and its in-account layout: 128 bytes, 8-byte aligned (v3 appended the
/// net borrow limit, offsets 112 and 120).
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | oracle_feed_id |
/// | 32 | 4×13 | oracle_max_age_secs, oracle_max_conf_bps, oracle_conf_multiplier_bps, init/maint asset weight, init/maint liability weight, liquidation_fee_bps, insurance_fee_bps, optimal_utilization_bps, min/optimal/max_rate_bps |
/// | 84 | 1 | oracle_kind |
/// | 85 | 3 | padding (zero) |
/// | 88 | 8 | deposit_limit_native |
/// | 96 | 8 | borrow_limit_native |
/// | 104 | 8 | deposit_weight_scale_start_quote |
/// | 112 | 8 | net_borrow_limit_per_window_quote |
/// | 120 | 8 | net_borrow_limit_window_secs |
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
pub struct BankConfig {
    /// Pyth feed id the oracle account must carry (pull oracle; ignored for legacy, whose
    /// account is the feed).
    pub oracle_feed_id: [u8; 32],
    pub oracle_max_age_secs: u32,
    /// Largest accepted conf / price, in bps.
    pub oracle_max_conf_bps: u32,
    /// k in price ± k·conf, in bps (10_000 = one confidence interval).
    pub oracle_conf_multiplier_bps: u32,
    pub init_asset_weight_bps: u32,
    pub maint_asset_weight_bps: u32,
    pub init_liab_weight_bps: u32,
    pub maint_liab_weight_bps: u32,
    pub liquidation_fee_bps: u32,
    pub insurance_fee_bps: u32,
    /// Interest curve: APR rises linearly from `min_rate_bps` at 0 utilization to
    /// `optimal_rate_bps` at `optimal_utilization_bps`, then to `max_rate_bps` at 100%.
    pub optimal_utilization_bps: u32,
    pub min_rate_bps: u32,
    pub optimal_rate_bps: u32,
    pub max_rate_bps: u32,
    /// 0 = Pyth pull (`PriceUpdateV2`), 1 = Pyth legacy.
    pub oracle_kind: u8,
    /// Zero; stored as zero whatever the argument carries.
    pub padding: [u8; 3],
    pub deposit_limit_native: u64,
    pub borrow_limit_native: u64,
    /// Above this deposit value (quote native) the init asset weight shrinks to
    /// `floor(weight × start / deposits_value)` whole bps. 0 = off.
    pub deposit_weight_scale_start_quote: u64,
    /// Net borrow limit (Mango v4's): the bank's borrows minus repays within one window, valued
    /// at the init liability price, may not exceed this (quote native units). 0 = off.
    pub net_borrow_limit_per_window_quote: u64,
    /// Length of the net borrow window, seconds; windows start at multiples of it (unix time).
    /// Must be above 0 when the limit is on.
    pub net_borrow_limit_window_secs: u64,
}

const _: () = assert!(core::mem::size_of::<BankConfig>() == 128);
const _: () = assert!(core::mem::align_of::<BankConfig>() == 8);

/// Highest liability weight accepted (5.0).
const MAX_LIAB_WEIGHT_BPS: u32 = 5 * BPS;
/// Highest liquidation or insurance fee accepted (25%).
const MAX_FEE_BPS: u32 = 2_500;
/// Highest APR accepted (10,000%).
const MAX_RATE_BPS: u32 = 1_000_000;

impl BankConfig {
    pub fn validate(&self) -> Result<()> {
        crate::oracle::validate_settings(
            self.oracle_kind,
            self.oracle_max_age_secs,
            self.oracle_max_conf_bps,
            self.oracle_conf_multiplier_bps,
        )?;
        require!(
            0 < self.init_asset_weight_bps
                && self.init_asset_weight_bps <= self.maint_asset_weight_bps
                && self.maint_asset_weight_bps <= BPS
                && BPS <= self.maint_liab_weight_bps
                && self.maint_liab_weight_bps <= self.init_liab_weight_bps
                && self.init_liab_weight_bps <= MAX_LIAB_WEIGHT_BPS,
            MarginError::InvalidRiskWeights
        );
        require!(
            self.liquidation_fee_bps <= MAX_FEE_BPS && self.insurance_fee_bps <= MAX_FEE_BPS,
            MarginError::InvalidFee
        );
        // Seizing collateral worth (1 + fees) × the debt must raise maint health for any debt
        // bank (maint liability weights are >= 1): (1 + fees) × maint asset weight < 1.
        // Otherwise every liquidation against this collateral lowers health, and accounts
        // holding it cannot be liquidated at all (found by the stress lab's usdc-depeg run).
        let seized = (BPS + self.liquidation_fee_bps + self.insurance_fee_bps) as u64;
        require!(
            seized * (self.maint_asset_weight_bps as u64) < (BPS as u64) * (BPS as u64),
            MarginError::LiquidationFeeTooHigh
        );
        require!(
            0 < self.optimal_utilization_bps
                && self.optimal_utilization_bps < BPS
                && self.min_rate_bps <= self.optimal_rate_bps
                && self.optimal_rate_bps <= self.max_rate_bps
                && self.max_rate_bps <= MAX_RATE_BPS,
            MarginError::InvalidInterestCurve
        );
        require!(
            self.net_borrow_limit_per_window_quote == 0 || self.net_borrow_limit_window_secs > 0,
            MarginError::InvalidNetBorrowLimit
        );
        Ok(())
    }

    /// Checks that `oracle` is a readable price account of the configured kind and feed, and, in
    /// a live group, that the max age is at most `LIVE_MAX_ORACLE_AGE_SECS`.
    pub fn validate_oracle(&self, group: &Group, oracle: &AccountInfo) -> Result<()> {
        crate::oracle::validate_account(
            group,
            self.oracle_kind,
            &self.oracle_feed_id,
            self.oracle_max_age_secs,
            oracle,
        )
    }

    pub fn oracle_kind(&self) -> Option<OracleKind> {
        OracleKind::from_u8(self.oracle_kind)
    }

    /// Replaces the bank's configuration and pinned oracle (padding stored as zero).
    pub fn apply(&self, bank: &mut Bank, oracle: Pubkey) {
        bank.oracle = oracle;
        bank.config = BankConfig { padding: [0; 3], ..*self };
    }
}

/// One token market of a group: its vault, oracle, configuration ([`BankConfig`]), interest
/// indices and totals.
///
/// Layout v4 (after the 8-byte discriminator), 600 bytes. Q64.64 numbers are stored as
/// little-endian `[u8; 16]` so that the struct needs only 8-byte alignment on every target.
/// v2 moved every admin-set field into the embedded `config` (its own layout in
/// [`BankConfig`]'s doc). v3 grew `config` to 128 bytes (the net borrow limit), which moved the
/// fields after it by 16, and took the net borrow window state (16 bytes) from `reserved`,
/// which shrank from 256 to 224 bytes. v4 took the queued configuration change and the
/// withdrawals' pre-tightening init weights (184 bytes) from `reserved`.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | group |
/// | 32 | 32 | mint |
/// | 64 | 32 | vault |
/// | 96 | 32 | token_program |
/// | 128 | 32 | oracle |
/// | 160 | 16 | deposit_index (Q64.64) |
/// | 176 | 16 | borrow_index (Q64.64) |
/// | 192 | 8 | total_deposit_shares |
/// | 200 | 8 | total_borrow_shares |
/// | 208 | 8 | insurance_native |
/// | 216 | 8 | last_accrual_ts |
/// | 224 | 128 | config ([`BankConfig`]) |
/// | 352 | 2 | bank_index |
/// | 354 | 1 | decimals |
/// | 355 | 1 | version |
/// | 356 | 1 | bump |
/// | 357 | 1 | vault_bump |
/// | 358 | 2 | padding |
/// | 360 | 8 | net_borrow_window_start_ts |
/// | 368 | 8 | net_borrows_in_window (i64, native tokens) |
/// | 376 | 168 | pending ([`PendingBankChange`]) |
/// | 544 | 4 | exit_init_asset_weight_bps |
/// | 548 | 4 | exit_init_liab_weight_bps |
/// | 552 | 8 | exit_weights_until_ts |
/// | 560 | 40 | reserved (zero) |
#[account(zero_copy)]
#[derive(Debug)]
pub struct Bank {
    pub group: Pubkey,
    pub mint: Pubkey,
    /// Token account holding every deposit and the insurance fund; owned by this bank's PDA.
    pub vault: Pubkey,
    /// SPL Token or Token-2022, as the mint's owner.
    pub token_program: Pubkey,
    /// The one price account this bank accepts (pinned: no cherry-picking another update).
    pub oracle: Pubkey,
    pub deposit_index: [u8; 16],
    pub borrow_index: [u8; 16],
    pub total_deposit_shares: u64,
    pub total_borrow_shares: u64,
    /// Insurance fund, held in the vault next to the deposits (native tokens).
    pub insurance_native: u64,
    pub last_accrual_ts: i64,
    /// What the admin set: oracle checks, weights, fees, limits, interest curve.
    pub config: BankConfig,
    /// Compact index positions use to refer to this bank.
    pub bank_index: u16,
    pub decimals: u8,
    pub version: u8,
    pub bump: u8,
    pub vault_bump: u8,
    pub padding: [u8; 2],
    /// Start of the current net borrow window (unix seconds, a multiple of the window length).
    pub net_borrow_window_start_ts: i64,
    /// Borrows minus repays in the current window, native tokens. May be negative: repays free
    /// room for borrows in the same window, as in Mango v4.
    pub net_borrows_in_window: i64,
    /// The queued configuration change, if any (`queue_bank_config`).
    pub pending: PendingBankChange,
    /// The init weights withdrawals may still use until `exit_weights_until_ts`, after an
    /// at-once tightening in a live group (see `Bank::exit_init_weights`).
    pub exit_init_asset_weight_bps: u32,
    pub exit_init_liab_weight_bps: u32,
    pub exit_weights_until_ts: i64,
    pub reserved: [u8; 40],
}

const _: () = assert!(Bank::SIZE == 600);

impl Bank {
    pub const SIZE: usize = core::mem::size_of::<Bank>();

    pub fn address(group: &Pubkey, mint: &Pubkey) -> (Pubkey, u8) {
        Pubkey::find_program_address(&[BANK_SEED, group.as_ref(), mint.as_ref()], &crate::ID)
    }

    pub fn vault_address(bank: &Pubkey) -> (Pubkey, u8) {
        Pubkey::find_program_address(&[VAULT_SEED, bank.as_ref()], &crate::ID)
    }

    pub fn deposit_index(&self) -> u128 {
        u128::from_le_bytes(self.deposit_index)
    }

    pub fn borrow_index(&self) -> u128 {
        u128::from_le_bytes(self.borrow_index)
    }

    pub fn set_deposit_index(&mut self, value: u128) {
        self.deposit_index = value.to_le_bytes();
    }

    pub fn set_borrow_index(&mut self, value: u128) {
        self.borrow_index = value.to_le_bytes();
    }

    pub fn oracle_kind(&self) -> Option<OracleKind> {
        self.config.oracle_kind()
    }

    /// All deposits, native tokens, rounded down.
    pub fn total_deposits_native(&self) -> MathResult<u64> {
        mul_q64(self.total_deposit_shares, self.deposit_index(), Round::Down)
    }

    /// All borrows, native tokens, rounded up.
    pub fn total_borrows_native(&self) -> MathResult<u64> {
        mul_q64(self.total_borrow_shares, self.borrow_index(), Round::Up)
    }

    /// All deposits, native tokens, rounded down, without narrowing to `u64` (never fails).
    fn deposits_wide(&self) -> u128 {
        mul_q64_wide(self.total_deposit_shares, self.deposit_index(), Round::Down)
    }

    /// All borrows, native tokens, rounded up, without narrowing to `u64` (never fails).
    fn borrows_wide(&self) -> u128 {
        mul_q64_wide(self.total_borrow_shares, self.borrow_index(), Round::Up)
    }

    /// Borrowed share of deposits, in bps, capped at 100%. Never fails.
    pub fn utilization_bps(&self) -> MathResult<u32> {
        Ok(utilization_of(self.deposits_wide(), self.borrows_wide()))
    }

    /// Borrow APR (bps) at a utilization (bps), from the two-slope curve. Rounds down. The
    /// configuration checks keep `0 < optimum < 100%` and `min <= optimal <= max`; the maths
    /// stays panic-free (saturating, no division by zero) even outside them.
    pub fn borrow_rate_bps(&self, utilization_bps: u32) -> u32 {
        let u = utilization_bps.min(BPS) as u64;
        let opt = self.config.optimal_utilization_bps as u64;
        let (min, mid, max) = (
            self.config.min_rate_bps as u64,
            self.config.optimal_rate_bps as u64,
            self.config.max_rate_bps as u64,
        );
        let rate = if u <= opt {
            min + mid.saturating_sub(min) * u / opt.max(1)
        } else {
            // opt < u <= BPS, so the span is at least 1.
            mid + max.saturating_sub(mid) * (u - opt) / (BPS as u64 - opt)
        };
        rate as u32
    }

    /// Accrues interest up to `now`: the borrow index grows by APR × elapsed / year (rounded
    /// up), and the interest the borrowers now owe is credited to depositors through the deposit
    /// index (rounded down), so the vault always covers deposits − borrows.
    ///
    /// Accrual never fails and never makes a bank unusable (finding L-7). The interest of one
    /// accrual is capped so that total borrows and total deposits (native) both stay at most
    /// `u64::MAX`: the borrow index grows to at most the largest index at which the bank's
    /// borrows, rounded up, fit under `u64::MAX − max(borrows, deposits)` more than before.
    /// Interest beyond that is not charged (nor credited); once withdrawals (or, where borrows
    /// are the larger total, repayments) make room again, interest resumes. A bank already at or past the cap accrues nothing. The
    /// `MathResult` is kept for callers; it is always `Ok`.
    pub fn accrue_interest(&mut self, now: i64) -> MathResult<()> {
        let elapsed = now.saturating_sub(self.last_accrual_ts);
        if elapsed <= 0 {
            return Ok(());
        }
        self.last_accrual_ts = now;
        if self.total_borrow_shares == 0 {
            return Ok(());
        }
        let (deposits, borrows_before) = (self.deposits_wide(), self.borrows_wide());
        let rate_bps = self.borrow_rate_bps(utilization_of(deposits, borrows_before));
        let room = (u64::MAX as u128).saturating_sub(borrows_before.max(deposits));
        if room == 0 {
            return Ok(());
        }
        let borrow_index = self.borrow_index();
        // Saturates: a growth too large for u128 is far beyond the cap below anyway.
        let numerator =
            borrow_index.saturating_mul(rate_bps as u128).saturating_mul(elapsed as u128);
        let denominator = BPS as u128 * SECONDS_PER_YEAR as u128;
        let uncapped = borrow_index.saturating_add(numerator.div_ceil(denominator));
        // The cap is the largest index whose borrows, rounded up, are at most
        // borrows_before + room (<= u64::MAX, so the shift fits); it is >= the current index,
        // since borrows_before is the current index's borrows rounded up. Below it (always, but
        // for a bank near u64::MAX) the product check saves the 128-bit division.
        let limit = borrows_before + room;
        let index = if mul_q64_wide(self.total_borrow_shares, uncapped, Round::Up) <= limit {
            uncapped
        } else {
            (limit << 64) / self.total_borrow_shares as u128
        };
        self.set_borrow_index(index);

        // <= room, so deposits + interest <= u64::MAX as well.
        let interest = self.borrows_wide().saturating_sub(borrows_before);
        if interest > 0 && self.total_deposit_shares > 0 {
            let per_share = (interest << 64) / self.total_deposit_shares as u128;
            // Cannot saturate: the deposits after stay within u64::MAX (see above).
            self.set_deposit_index(self.deposit_index().saturating_add(per_share));
        }
        Ok(())
    }

    /// The bank's inputs to the health module at the given conservative prices: maint-side
    /// (`asset_price`, `liab_price`) and init-side, which include the stable price
    /// ([`crate::oracle::OraclePrice`]). The oracle price is left 0: callers that liquidate set
    /// it.
    pub fn risk(
        &self,
        asset_price: u128,
        liab_price: u128,
        init_asset_price: u128,
        init_liab_price: u128,
    ) -> MathResult<BankRisk> {
        Ok(BankRisk {
            deposit_index: self.deposit_index(),
            borrow_index: self.borrow_index(),
            oracle_price: 0,
            asset_price,
            liab_price,
            init_asset_price,
            init_liab_price,
            init_asset_weight_bps: self.config.init_asset_weight_bps,
            maint_asset_weight_bps: self.config.maint_asset_weight_bps,
            init_liab_weight_bps: self.config.init_liab_weight_bps,
            maint_liab_weight_bps: self.config.maint_liab_weight_bps,
            deposit_weight_scale_start_quote: self.config.deposit_weight_scale_start_quote,
            // Only the size-aware weight reads it.
            total_deposits_native: if self.config.deposit_weight_scale_start_quote == 0 {
                0
            } else {
                self.total_deposits_native()?
            },
        })
    }

    /// [`Bank::risk`] at every side of a validated price.
    pub fn risk_at(&self, price: &crate::oracle::OraclePrice) -> MathResult<BankRisk> {
        self.risk(
            price.asset_price,
            price.liab_price,
            price.init_asset_price,
            price.init_liab_price,
        )
    }

    /// Whether the net borrow limit is on.
    pub fn net_borrow_limit_enabled(&self) -> bool {
        self.config.net_borrow_limit_per_window_quote > 0
    }

    /// Starts a new net borrow window if `now` is past the current one: the window becomes
    /// `[now − now mod length, … + length)` and its net borrows start at 0.
    fn roll_net_borrow_window(&mut self, now: i64) {
        let length = self.config.net_borrow_limit_window_secs.min(i64::MAX as u64) as i64;
        if length == 0 {
            return;
        }
        if now.saturating_sub(self.net_borrow_window_start_ts) >= length {
            self.net_borrow_window_start_ts = now - now.rem_euclid(length);
            self.net_borrows_in_window = 0;
        }
    }

    /// Records a borrow of `amount` native tokens in the window and checks the limit: the net
    /// borrows, if positive, valued at `init_liab_price` (rounded up) must be at most
    /// `net_borrow_limit_per_window_quote`. Off (limit 0): nothing is recorded.
    pub fn record_net_borrow(
        &mut self,
        amount: u64,
        init_liab_price: u128,
        now: i64,
    ) -> core::result::Result<(), MarginError> {
        if !self.net_borrow_limit_enabled() {
            return Ok(());
        }
        self.roll_net_borrow_window(now);
        let amount = i64::try_from(amount).map_err(|_| MarginError::MathOverflow)?;
        let net =
            self.net_borrows_in_window.checked_add(amount).ok_or(MarginError::MathOverflow)?;
        if net > 0 {
            // A value beyond u64 is beyond any limit.
            let value = mul_q64(net as u64, init_liab_price, Round::Up).unwrap_or(u64::MAX);
            if value > self.config.net_borrow_limit_per_window_quote {
                return Err(MarginError::NetBorrowLimitExceeded);
            }
        }
        self.net_borrows_in_window = net;
        Ok(())
    }

    /// Records a repay of `amount` native tokens in the window (frees room; never fails, needs
    /// no price). Off (limit 0): nothing is recorded.
    pub fn record_net_repay(&mut self, amount: u64, now: i64) {
        if !self.net_borrow_limit_enabled() {
            return;
        }
        self.roll_net_borrow_window(now);
        let amount = amount.min(i64::MAX as u64) as i64;
        self.net_borrows_in_window = self.net_borrows_in_window.saturating_sub(amount);
    }

    /// Tokens in the vault that belong to no one's deposit claim and are not lent out:
    /// what withdrawals and borrows may take. Never fails.
    pub fn available_liquidity(&self) -> MathResult<u64> {
        let liquidity = self.deposits_wide().saturating_sub(self.borrows_wide());
        Ok(u64::try_from(liquidity).unwrap_or(u64::MAX))
    }

    pub fn initial_index() -> u128 {
        ONE_Q64
    }
}

/// Borrows over deposits, in bps, capped at 100% (100% for debt with no deposits left).
fn utilization_of(deposits: u128, borrows: u128) -> u32 {
    if deposits == 0 {
        return if borrows == 0 { 0 } else { BPS };
    }
    // Saturating: deposits stay within u64 (see `accrue_interest`), so it never saturates there.
    (borrows.saturating_mul(BPS as u128) / deposits).min(BPS as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::div_q64;
    use core::mem::offset_of;

    #[test]
    fn bank_layout_v4_offsets() {
        assert_eq!(offset_of!(Bank, group), 0);
        assert_eq!(offset_of!(Bank, mint), 32);
        assert_eq!(offset_of!(Bank, vault), 64);
        assert_eq!(offset_of!(Bank, token_program), 96);
        assert_eq!(offset_of!(Bank, oracle), 128);
        assert_eq!(offset_of!(Bank, deposit_index), 160);
        assert_eq!(offset_of!(Bank, borrow_index), 176);
        assert_eq!(offset_of!(Bank, total_deposit_shares), 192);
        assert_eq!(offset_of!(Bank, total_borrow_shares), 200);
        assert_eq!(offset_of!(Bank, insurance_native), 208);
        assert_eq!(offset_of!(Bank, last_accrual_ts), 216);
        assert_eq!(offset_of!(Bank, config), 224);
        assert_eq!(offset_of!(Bank, bank_index), 352);
        assert_eq!(offset_of!(Bank, decimals), 354);
        assert_eq!(offset_of!(Bank, version), 355);
        assert_eq!(offset_of!(Bank, bump), 356);
        assert_eq!(offset_of!(Bank, vault_bump), 357);
        assert_eq!(offset_of!(Bank, padding), 358);
        assert_eq!(offset_of!(Bank, net_borrow_window_start_ts), 360);
        assert_eq!(offset_of!(Bank, net_borrows_in_window), 368);
        assert_eq!(offset_of!(Bank, pending), 376);
        assert_eq!(offset_of!(Bank, exit_init_asset_weight_bps), 544);
        assert_eq!(offset_of!(Bank, exit_weights_until_ts), 552);
        assert_eq!(offset_of!(Bank, reserved), 560);
        assert_eq!(core::mem::size_of::<Bank>(), 600);
        assert_eq!(core::mem::align_of::<Bank>(), 8);
    }

    #[test]
    fn bank_config_layout_offsets() {
        assert_eq!(offset_of!(BankConfig, oracle_feed_id), 0);
        assert_eq!(offset_of!(BankConfig, oracle_max_age_secs), 32);
        assert_eq!(offset_of!(BankConfig, max_rate_bps), 80);
        assert_eq!(offset_of!(BankConfig, oracle_kind), 84);
        assert_eq!(offset_of!(BankConfig, padding), 85);
        assert_eq!(offset_of!(BankConfig, deposit_limit_native), 88);
        assert_eq!(offset_of!(BankConfig, borrow_limit_native), 96);
        assert_eq!(offset_of!(BankConfig, deposit_weight_scale_start_quote), 104);
        assert_eq!(offset_of!(BankConfig, net_borrow_limit_per_window_quote), 112);
        assert_eq!(offset_of!(BankConfig, net_borrow_limit_window_secs), 120);
        assert_eq!(core::mem::size_of::<BankConfig>(), 128);
    }

    /// The argument's Borsh encoding is its in-account bytes: no implicit padding, little-endian.
    #[test]
    fn bank_config_borsh_is_its_layout() {
        let mut config: BankConfig = bytemuck::Zeroable::zeroed();
        config.oracle_feed_id = [7; 32];
        config.maint_asset_weight_bps = 9_000;
        config.oracle_kind = 1;
        config.deposit_weight_scale_start_quote = u64::MAX - 5;
        config.net_borrow_limit_per_window_quote = 0x0102_0304_0506_0708;
        config.net_borrow_limit_window_secs = 3_600;
        let mut borsh = Vec::new();
        config.serialize(&mut borsh).unwrap();
        assert_eq!(borsh.as_slice(), bytemuck::bytes_of(&config));
    }

    /// 2% at 0 utilization, 10% at the 80% optimum, 100% at full utilization.
    fn curve() -> Bank {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.config.optimal_utilization_bps = 8_000;
        bank.config.min_rate_bps = 200;
        bank.config.optimal_rate_bps = 1_000;
        bank.config.max_rate_bps = 10_000;
        bank
    }

    #[test]
    fn the_interest_curve_has_two_slopes() {
        let bank = curve();
        assert_eq!(bank.borrow_rate_bps(0), 200);
        assert_eq!(bank.borrow_rate_bps(4_000), 600); // halfway up the first slope
        assert_eq!(bank.borrow_rate_bps(8_000), 1_000); // the kink
        assert_eq!(bank.borrow_rate_bps(8_001), 1_004); // 9,000 / 2,000 per bp, rounded down
        assert_eq!(bank.borrow_rate_bps(9_000), 5_500); // halfway up the second slope
        assert_eq!(bank.borrow_rate_bps(10_000), 10_000);
        // Utilization is capped at 100%.
        assert_eq!(bank.borrow_rate_bps(u32::MAX), 10_000);
        // Never falls as utilization rises.
        let rates: Vec<u32> = (0..=10_000).step_by(50).map(|u| bank.borrow_rate_bps(u)).collect();
        assert!(rates.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn the_interest_curve_never_panics_outside_its_configuration() {
        let mut bank = curve();
        bank.config.optimal_utilization_bps = 0;
        assert_eq!(bank.borrow_rate_bps(0), 200);
        assert_eq!(bank.borrow_rate_bps(10_000), 10_000);
        bank.config.optimal_utilization_bps = 10_000;
        bank.config.min_rate_bps = 5_000; // above the optimal rate
        assert_eq!(bank.borrow_rate_bps(10_000), 5_000);
        bank.config.optimal_utilization_bps = u32::MAX;
        assert_eq!(bank.borrow_rate_bps(10_000), 5_000);
    }

    #[test]
    fn net_borrows_are_limited_per_window() {
        let mut bank = curve();
        bank.config.net_borrow_limit_per_window_quote = 1_000; // $0.001 of quote native units
        bank.config.net_borrow_limit_window_secs = 100;
        // At 1 quote unit per native token: 600 then 400 fit, one more does not.
        assert_eq!(bank.record_net_borrow(600, ONE_Q64, 1_050), Ok(()));
        assert_eq!(bank.net_borrow_window_start_ts, 1_000);
        assert_eq!(bank.record_net_borrow(400, ONE_Q64, 1_099), Ok(()));
        assert_eq!(
            bank.record_net_borrow(1, ONE_Q64, 1_099),
            Err(MarginError::NetBorrowLimitExceeded)
        );
        assert_eq!(bank.net_borrows_in_window, 1_000); // unchanged by the refused borrow
                                                       // A repay frees room in the same window; the net may go negative.
        bank.record_net_repay(1_500, 1_099);
        assert_eq!(bank.net_borrows_in_window, -500);
        assert_eq!(bank.record_net_borrow(1_500, ONE_Q64, 1_099), Ok(()));
        // A new window starts from zero, at a multiple of the length.
        assert_eq!(bank.record_net_borrow(1_000, ONE_Q64, 1_234), Ok(()));
        assert_eq!((bank.net_borrow_window_start_ts, bank.net_borrows_in_window), (1_200, 1_000));
        // Valued at the price given (rounded up): 2 native at 0.5 + ε is worth 2 > 1.
        let mut bank = curve();
        bank.config.net_borrow_limit_per_window_quote = 1;
        bank.config.net_borrow_limit_window_secs = 100;
        assert_eq!(
            bank.record_net_borrow(2, ONE_Q64 / 2 + 1, 0),
            Err(MarginError::NetBorrowLimitExceeded)
        );
        // Off: nothing recorded.
        let mut off = curve();
        assert_eq!(off.record_net_borrow(u64::MAX, u128::MAX, 5), Ok(()));
        assert_eq!(off.net_borrows_in_window, 0);
    }

    #[test]
    fn utilization_is_borrows_over_deposits() {
        let mut bank = curve();
        bank.set_deposit_index(ONE_Q64);
        bank.set_borrow_index(ONE_Q64);
        assert_eq!(bank.utilization_bps(), Ok(0));
        bank.total_deposit_shares = 1_000;
        bank.total_borrow_shares = 250;
        assert_eq!(bank.utilization_bps(), Ok(2_500));
        bank.total_deposit_shares = 0;
        assert_eq!(bank.utilization_bps(), Ok(BPS)); // debt with no deposits left
    }

    const YEAR: i64 = SECONDS_PER_YEAR as i64;

    /// A BONK-class bank: 8.8e18 native deposited (about BONK's supply), 8e18 of it borrowed,
    /// 10,000% APR at any utilization.
    fn bonk_bank() -> Bank {
        let mut bank = curve();
        (bank.config.min_rate_bps, bank.config.optimal_rate_bps, bank.config.max_rate_bps) =
            (MAX_RATE_BPS, MAX_RATE_BPS, MAX_RATE_BPS);
        bank.set_deposit_index(ONE_Q64);
        bank.set_borrow_index(ONE_Q64);
        bank.total_deposit_shares = 8_800_000_000_000_000_000;
        bank.total_borrow_shares = 8_000_000_000_000_000_000;
        bank
    }

    fn totals(bank: &Bank) -> (u64, u64) {
        (bank.total_deposits_native().unwrap(), bank.total_borrows_native().unwrap())
    }

    /// L-7. Interest that would take total borrows or deposits past u64 is capped there: the
    /// accrual succeeds, both totals still fit, and the depositors are credited exactly what the
    /// borrowers now owe.
    #[test]
    fn l7_interest_overflow_is_capped_at_u64() {
        let mut bank = bonk_bank();
        let (deposits_before, borrows_before) = totals(&bank);
        assert_eq!(bank.accrue_interest(YEAR), Ok(()));
        let (deposits, borrows) = totals(&bank);
        // Deposits (cash + borrows) are the larger total and reach the cap first; the cap leaves
        // them at most one unit of rounding below u64::MAX.
        assert!(deposits > u64::MAX - 2, "deposits {deposits}");
        assert!(borrows < deposits);
        // Depositors are credited the borrowers' interest, rounded down (at most a unit less).
        let interest = borrows - borrows_before;
        assert!((interest - 1..=interest).contains(&(deposits - deposits_before)));
        assert_eq!(bank.last_accrual_ts, YEAR);
        // Far less than the 101× that 10,000% APR would charge: interest is capped.
        assert!(bank.borrow_index() < 3 * ONE_Q64, "index {}", bank.borrow_index());
    }

    /// L-7. At the cap, accrual succeeds and charges nothing; once withdrawals make room (the
    /// deposits, cash plus borrows, are the larger total), interest resumes, again up to the cap.
    #[test]
    fn l7_a_bank_at_the_cap_keeps_accruing_without_error() {
        let mut bank = bonk_bank();
        bank.accrue_interest(YEAR).unwrap();
        let (index, (_, borrows_at_cap)) = (bank.borrow_index(), totals(&bank));
        for years in 2..50 {
            assert_eq!(bank.accrue_interest(years * YEAR), Ok(()));
        }
        // Nothing is charged at the cap beyond the unit the deposit credit's rounding down can
        // leave free per accrual.
        let (deposits, borrows) = totals(&bank);
        assert!(borrows - borrows_at_cap <= 48, "{borrows} vs {borrows_at_cap}");
        assert!(deposits > u64::MAX - 2);
        assert!(bank.available_liquidity().is_ok() && bank.utilization_bps().is_ok());

        // A quarter of the borrows repaid, then that much withdrawn (repaying alone leaves the
        // deposits, cash + borrows, where they were).
        bank.total_borrow_shares -= 2_000_000_000_000_000_000;
        bank.total_deposit_shares =
            div_q64(deposits - 2_000_000_000_000_000_000, bank.deposit_index(), Round::Down)
                .unwrap();
        let (deposits_before, borrows_before) = totals(&bank);
        bank.accrue_interest(51 * YEAR).unwrap();
        let (deposits, borrows) = totals(&bank);
        assert!(bank.borrow_index() > index, "interest resumed");
        let interest = borrows - borrows_before;
        assert!((interest - 1..=interest).contains(&(deposits - deposits_before)));
    }

    /// L-7. Even state past the cap (here borrows above u64, which only a liquidation's share
    /// rounding at the very edge could produce) and extreme indices or clocks never make accrual
    /// fail or panic; the liquidity and utilization the instructions need stay computable.
    #[test]
    fn l7_accrual_never_fails_on_extreme_state() {
        for (index, shares, elapsed) in [
            (u128::MAX, u64::MAX, i64::MAX),
            (u128::MAX, 1, 1),
            (ONE_Q64 * 2, u64::MAX, YEAR), // borrows of 2 × u64::MAX
            (ONE_Q64, u64::MAX, i64::MAX),
            (ONE_Q64 + 1, 1, i64::MAX),
        ] {
            let mut bank = bonk_bank();
            bank.set_borrow_index(index);
            bank.total_borrow_shares = shares;
            assert_eq!(bank.accrue_interest(elapsed), Ok(()), "{index} {shares} {elapsed}");
            assert!(bank.borrow_index() >= index);
            assert!(bank.available_liquidity().is_ok() && bank.utilization_bps().is_ok());
            let deposits =
                mul_q64_wide(bank.total_deposit_shares, bank.deposit_index(), Round::Down);
            assert!(deposits <= u64::MAX as u128, "deposits {deposits}");
        }
        // A small bank is unaffected by the cap: 10% of 1,000 in a year, as before.
        let mut bank = curve();
        (bank.config.min_rate_bps, bank.config.optimal_rate_bps) = (1_000, 1_000);
        bank.set_deposit_index(ONE_Q64);
        bank.set_borrow_index(ONE_Q64);
        (bank.total_deposit_shares, bank.total_borrow_shares) = (2_000, 1_000);
        bank.accrue_interest(YEAR).unwrap();
        assert_eq!(bank.borrow_index(), ONE_Q64 + ONE_Q64 / 10 + 1);
        assert_eq!(totals(&bank), (2_100, 1_101));
    }
}
