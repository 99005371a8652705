use anchor_lang::prelude::*;

use crate::constants::{BANK_SEED, SECONDS_PER_YEAR, VAULT_SEED};
use crate::health::BankRisk;
use crate::math::{mul_q64, MathResult, Overflow, Round, BPS, ONE_Q64};

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

/// One token market of a group: its vault, oracle, risk weights, interest and limits.
///
/// Layout v1 (after the 8-byte discriminator), 600 bytes. Q64.64 numbers are stored as
/// little-endian `[u8; 16]` so that the struct needs only 8-byte alignment on every target.
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 32 | group |
/// | 32 | 32 | mint |
/// | 64 | 32 | vault |
/// | 96 | 32 | token_program |
/// | 128 | 32 | oracle |
/// | 160 | 32 | oracle_feed_id |
/// | 192 | 16 | deposit_index (Q64.64) |
/// | 208 | 16 | borrow_index (Q64.64) |
/// | 224 | 8 | total_deposit_shares |
/// | 232 | 8 | total_borrow_shares |
/// | 240 | 8 | insurance_native |
/// | 248 | 8 | deposit_limit_native |
/// | 256 | 8 | borrow_limit_native |
/// | 264 | 8 | deposit_weight_scale_start_quote |
/// | 272 | 8 | last_accrual_ts |
/// | 280 | 4×13 | oracle_max_age_secs, oracle_max_conf_bps, oracle_conf_multiplier_bps, 4 weights, liquidation_fee_bps, insurance_fee_bps, optimal_utilization_bps, min/optimal/max_rate_bps |
/// | 332 | 2 | bank_index |
/// | 334 | 1 | decimals |
/// | 335 | 1 | oracle_kind |
/// | 336 | 1 | version |
/// | 337 | 1 | bump |
/// | 338 | 1 | vault_bump |
/// | 339 | 5 | padding |
/// | 344 | 256 | reserved (zero) |
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
    /// Pyth feed id the oracle account must carry (pull oracle only).
    pub oracle_feed_id: [u8; 32],
    pub deposit_index: [u8; 16],
    pub borrow_index: [u8; 16],
    pub total_deposit_shares: u64,
    pub total_borrow_shares: u64,
    /// Insurance fund, held in the vault next to the deposits (native tokens).
    pub insurance_native: u64,
    pub deposit_limit_native: u64,
    pub borrow_limit_native: u64,
    /// Above this deposit value (quote native) the init asset weight shrinks. 0 = off.
    pub deposit_weight_scale_start_quote: u64,
    pub last_accrual_ts: i64,
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
    /// Compact index positions use to refer to this bank.
    pub bank_index: u16,
    pub decimals: u8,
    pub oracle_kind: u8,
    pub version: u8,
    pub bump: u8,
    pub vault_bump: u8,
    pub padding: [u8; 5],
    pub reserved: [u8; 256],
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
        OracleKind::from_u8(self.oracle_kind)
    }

    /// All deposits, native tokens, rounded down.
    pub fn total_deposits_native(&self) -> MathResult<u64> {
        mul_q64(self.total_deposit_shares, self.deposit_index(), Round::Down)
    }

    /// All borrows, native tokens, rounded up.
    pub fn total_borrows_native(&self) -> MathResult<u64> {
        mul_q64(self.total_borrow_shares, self.borrow_index(), Round::Up)
    }

    /// Borrowed share of deposits, in bps, capped at 100%.
    pub fn utilization_bps(&self) -> MathResult<u32> {
        let deposits = self.total_deposits_native()?;
        let borrows = self.total_borrows_native()?;
        if deposits == 0 {
            return Ok(if borrows == 0 { 0 } else { BPS });
        }
        let utilization = (borrows as u128 * BPS as u128) / deposits as u128;
        Ok(utilization.min(BPS as u128) as u32)
    }

    /// Borrow APR (bps) at a utilization (bps), from the two-slope curve. Rounds down. The
    /// configuration checks keep `0 < optimum < 100%` and `min <= optimal <= max`; the maths
    /// stays panic-free (saturating, no division by zero) even outside them.
    pub fn borrow_rate_bps(&self, utilization_bps: u32) -> u32 {
        let u = utilization_bps.min(BPS) as u64;
        let opt = self.optimal_utilization_bps as u64;
        let (min, mid, max) =
            (self.min_rate_bps as u64, self.optimal_rate_bps as u64, self.max_rate_bps as u64);
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
    pub fn accrue_interest(&mut self, now: i64) -> MathResult<()> {
        let elapsed = now.saturating_sub(self.last_accrual_ts);
        if elapsed <= 0 {
            return Ok(());
        }
        self.last_accrual_ts = now;
        if self.total_borrow_shares == 0 {
            return Ok(());
        }
        let rate_bps = self.borrow_rate_bps(self.utilization_bps()?);
        let borrows_before = self.total_borrows_native()?;
        let borrow_index = self.borrow_index();
        let numerator = borrow_index
            .checked_mul(rate_bps as u128)
            .and_then(|x| x.checked_mul(elapsed as u128))
            .ok_or(Overflow)?;
        let denominator = BPS as u128 * SECONDS_PER_YEAR as u128;
        let growth = numerator.div_ceil(denominator);
        self.set_borrow_index(borrow_index.checked_add(growth).ok_or(Overflow)?);

        let interest = self.total_borrows_native()?.saturating_sub(borrows_before);
        if interest > 0 && self.total_deposit_shares > 0 {
            let per_share = ((interest as u128) << 64) / self.total_deposit_shares as u128;
            let deposit_index = self.deposit_index().checked_add(per_share).ok_or(Overflow)?;
            self.set_deposit_index(deposit_index);
        }
        Ok(())
    }

    /// The bank's inputs to the health module at the given conservative prices.
    pub fn risk(&self, asset_price: u128, liab_price: u128) -> MathResult<BankRisk> {
        Ok(BankRisk {
            deposit_index: self.deposit_index(),
            borrow_index: self.borrow_index(),
            asset_price,
            liab_price,
            init_asset_weight_bps: self.init_asset_weight_bps,
            maint_asset_weight_bps: self.maint_asset_weight_bps,
            init_liab_weight_bps: self.init_liab_weight_bps,
            maint_liab_weight_bps: self.maint_liab_weight_bps,
            deposit_weight_scale_start_quote: self.deposit_weight_scale_start_quote,
            // Only the size-aware weight reads it.
            total_deposits_native: if self.deposit_weight_scale_start_quote == 0 {
                0
            } else {
                self.total_deposits_native()?
            },
        })
    }

    /// Tokens in the vault that belong to no one's deposit claim and are not lent out:
    /// what withdrawals and borrows may take.
    pub fn available_liquidity(&self) -> MathResult<u64> {
        let deposits = self.total_deposits_native()?;
        let borrows = self.total_borrows_native()?;
        Ok(deposits.saturating_sub(borrows))
    }

    pub fn initial_index() -> u128 {
        ONE_Q64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn bank_layout_v1_offsets() {
        assert_eq!(offset_of!(Bank, group), 0);
        assert_eq!(offset_of!(Bank, mint), 32);
        assert_eq!(offset_of!(Bank, vault), 64);
        assert_eq!(offset_of!(Bank, token_program), 96);
        assert_eq!(offset_of!(Bank, oracle), 128);
        assert_eq!(offset_of!(Bank, oracle_feed_id), 160);
        assert_eq!(offset_of!(Bank, deposit_index), 192);
        assert_eq!(offset_of!(Bank, borrow_index), 208);
        assert_eq!(offset_of!(Bank, total_deposit_shares), 224);
        assert_eq!(offset_of!(Bank, total_borrow_shares), 232);
        assert_eq!(offset_of!(Bank, insurance_native), 240);
        assert_eq!(offset_of!(Bank, deposit_limit_native), 248);
        assert_eq!(offset_of!(Bank, borrow_limit_native), 256);
        assert_eq!(offset_of!(Bank, deposit_weight_scale_start_quote), 264);
        assert_eq!(offset_of!(Bank, last_accrual_ts), 272);
        assert_eq!(offset_of!(Bank, oracle_max_age_secs), 280);
        assert_eq!(offset_of!(Bank, max_rate_bps), 328);
        assert_eq!(offset_of!(Bank, bank_index), 332);
        assert_eq!(offset_of!(Bank, decimals), 334);
        assert_eq!(offset_of!(Bank, oracle_kind), 335);
        assert_eq!(offset_of!(Bank, version), 336);
        assert_eq!(offset_of!(Bank, bump), 337);
        assert_eq!(offset_of!(Bank, vault_bump), 338);
        assert_eq!(offset_of!(Bank, padding), 339);
        assert_eq!(offset_of!(Bank, reserved), 344);
        assert_eq!(core::mem::align_of::<Bank>(), 8);
    }

    /// 2% at 0 utilization, 10% at the 80% optimum, 100% at full utilization.
    fn curve() -> Bank {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.optimal_utilization_bps = 8_000;
        bank.min_rate_bps = 200;
        bank.optimal_rate_bps = 1_000;
        bank.max_rate_bps = 10_000;
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
        bank.optimal_utilization_bps = 0;
        assert_eq!(bank.borrow_rate_bps(0), 200);
        assert_eq!(bank.borrow_rate_bps(10_000), 10_000);
        bank.optimal_utilization_bps = 10_000;
        bank.min_rate_bps = 5_000; // above the optimal rate
        assert_eq!(bank.borrow_rate_bps(10_000), 5_000);
        bank.optimal_utilization_bps = u32::MAX;
        assert_eq!(bank.borrow_rate_bps(10_000), 5_000);
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
}
