//! Which configuration changes wait for the group's delay (finding M-1), and the queued bank
//! change. Pure: the program, the keeper and the tests classify with these functions.
//!
//! A change applies at once only if it can neither make a healthy account liquidatable nor move
//! value between parties: it may only tighten what new risk is accepted (lower init asset weight,
//! higher init liability weight, lower deposit, borrow and net borrow limits), or, for the group,
//! raise the delay. Everything else waits: maint weights and fees in either direction (looser
//! maint settings move losses onto depositors, higher fees move value to liquidators), oracle
//! settings and the pinned oracle, the interest curve, the size-aware threshold, and the group's
//! oracle program ids, liquidation end target, dust threshold and a lower delay. In a group in
//! setup (delay 0) everything applies at once.

use anchor_lang::prelude::*;

use crate::state::{Bank, BankConfig, Group, PendingGroupChange};

/// A queued `configure_bank`: the whole new configuration and pinned oracle. 168 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | apply_after_ts (0 = nothing queued) |
/// | 8 | 32 | oracle |
/// | 40 | 128 | config ([`BankConfig`]) |
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
pub struct PendingBankChange {
    /// Unix time from which anyone may apply the change.
    pub apply_after_ts: i64,
    pub oracle: Pubkey,
    pub config: BankConfig,
}

const _: () = assert!(core::mem::size_of::<PendingBankChange>() == 168);

impl PendingBankChange {
    pub fn is_queued(&self) -> bool {
        self.apply_after_ts != 0
    }
}

impl Bank {
    /// The bank as it will be once its queued change (if any) applies.
    pub fn with_pending_change(&self) -> Bank {
        let mut bank = *self;
        if self.pending.is_queued() {
            self.pending.config.apply(&mut bank, self.pending.oracle);
            bank.pending = bytemuck::Zeroable::zeroed();
        }
        bank
    }
}

impl Bank {
    /// The init weights a withdrawal uses at `now`, if an at-once tightening's window is open:
    /// the looser of the weights before the tightening (kept in `exit_init_*`) and those in
    /// force. Borrows use the weights in force at once (new risk); withdrawals (ways out) get
    /// the old ones for one delay, so tightening cannot lock users in while a queued change that
    /// hurts them runs down (the adversarial review's finding on M-1).
    pub fn exit_init_weights(&self, now: i64) -> Option<(u32, u32)> {
        (now < self.exit_weights_until_ts).then(|| {
            (
                self.exit_init_asset_weight_bps.max(self.config.init_asset_weight_bps),
                self.exit_init_liab_weight_bps.min(self.config.init_liab_weight_bps),
            )
        })
    }

    /// Before an at-once change from `old` in a live group: if it tightens an init weight,
    /// withdrawals keep the loosest weights of the window (the ones before its first tightening)
    /// until `now + delay_secs`.
    pub fn open_exit_window(
        &mut self,
        old: &BankConfig,
        new: &BankConfig,
        now: i64,
        delay_secs: u32,
    ) {
        let tightens = new.init_asset_weight_bps < old.init_asset_weight_bps
            || new.init_liab_weight_bps > old.init_liab_weight_bps;
        if !tightens {
            return;
        }
        let (asset, liab) = self
            .exit_init_weights(now)
            .unwrap_or((old.init_asset_weight_bps, old.init_liab_weight_bps));
        self.exit_init_asset_weight_bps = asset.max(old.init_asset_weight_bps);
        self.exit_init_liab_weight_bps = liab.min(old.init_liab_weight_bps);
        self.exit_weights_until_ts = now.saturating_add(delay_secs as i64);
    }
}

/// Whether replacing `old` (pinned to `old_oracle`) by `new` (pinned to `new_oracle`) must be
/// queued in a live group: true unless every difference only tightens new risk.
pub fn bank_change_needs_delay(
    old: &BankConfig,
    old_oracle: &Pubkey,
    new: &BankConfig,
    new_oracle: &Pubkey,
) -> bool {
    let tightens_only = new.init_asset_weight_bps <= old.init_asset_weight_bps
        && new.init_liab_weight_bps >= old.init_liab_weight_bps
        && new.deposit_limit_native <= old.deposit_limit_native
        && new.borrow_limit_native <= old.borrow_limit_native
        && net_borrow_limit_tightens(old, new);
    // Every other field must be unchanged: compare with the tightening fields copied over.
    let rest_unchanged = BankConfig {
        init_asset_weight_bps: old.init_asset_weight_bps,
        init_liab_weight_bps: old.init_liab_weight_bps,
        deposit_limit_native: old.deposit_limit_native,
        borrow_limit_native: old.borrow_limit_native,
        net_borrow_limit_per_window_quote: old.net_borrow_limit_per_window_quote,
        net_borrow_limit_window_secs: old.net_borrow_limit_window_secs,
        padding: old.padding,
        ..*new
    } == *old;
    !(tightens_only && rest_unchanged && old_oracle == new_oracle)
}

/// The net borrow limit (0 = off) is unchanged, turned on, or lowered over a window at least as
/// long.
fn net_borrow_limit_tightens(old: &BankConfig, new: &BankConfig) -> bool {
    let (old_limit, old_window) =
        (old.net_borrow_limit_per_window_quote, old.net_borrow_limit_window_secs);
    let (new_limit, new_window) =
        (new.net_borrow_limit_per_window_quote, new.net_borrow_limit_window_secs);
    if (old_limit, old_window) == (new_limit, new_window) || (old_limit == 0 && new_limit == 0) {
        return true;
    }
    new_limit != 0 && (old_limit == 0 || (new_limit <= old_limit && new_window >= old_window))
}

/// What `configure_group` may change: `None` leaves a setting as it is.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupConfigOptions {
    pub paused: Option<bool>,
    pub reduce_only: Option<bool>,
    pub pyth_receiver_program: Option<Pubkey>,
    pub pyth_legacy_program: Option<Pubkey>,
    /// A liquidation continues until maint health >= this fraction (bps) of the account's
    /// maint-weighted liabilities.
    pub liquidation_end_buffer_bps: Option<u32>,
    /// Deposits worth less than this (quote native units) count as exhausted.
    pub bankruptcy_dust_quote: Option<u64>,
    /// Delay of queued changes; 0 is refused (a live group cannot go back to setup).
    pub config_delay_secs: Option<u32>,
    /// The key that may only pause and set reduce-only; default = none.
    pub emergency_admin: Option<Pubkey>,
}

impl GroupConfigOptions {
    /// Whether these options, applied to `group` now, must be queued: in a live group, any
    /// change of the oracle program ids, the liquidation end target or the dust threshold, or a
    /// lower delay. Settings equal to the current ones count as unchanged.
    pub fn needs_delay(&self, group: &Group) -> bool {
        if !group.is_live() {
            return false;
        }
        let changes = |new: Option<Pubkey>, old: Pubkey| new.is_some_and(|new| new != old);
        changes(self.pyth_receiver_program, group.pyth_receiver_program)
            || changes(self.pyth_legacy_program, group.pyth_legacy_program)
            || self
                .liquidation_end_buffer_bps
                .is_some_and(|b| b != group.liquidation_end_buffer_bps)
            || self.bankruptcy_dust_quote.is_some_and(|d| d != group.bankruptcy_dust_quote)
            || self.config_delay_secs.is_some_and(|d| d < group.config_delay_secs)
    }

    /// The options as a queued change (the settings that apply at once must be `None`; the
    /// caller checks).
    pub fn to_pending(&self, apply_after_ts: i64) -> PendingGroupChange {
        PendingGroupChange {
            apply_after_ts,
            pyth_receiver_program: self.pyth_receiver_program.unwrap_or_default(),
            pyth_legacy_program: self.pyth_legacy_program.unwrap_or_default(),
            bankruptcy_dust_quote: self.bankruptcy_dust_quote.unwrap_or(0),
            liquidation_end_buffer_bps: self.liquidation_end_buffer_bps.unwrap_or(0),
            config_delay_secs: self.config_delay_secs.unwrap_or(0),
        }
    }

    /// A queued change as options (zero fields = `None`).
    pub fn from_pending(p: &PendingGroupChange) -> Self {
        let key = |k: Pubkey| (k != Pubkey::default()).then_some(k);
        GroupConfigOptions {
            pyth_receiver_program: key(p.pyth_receiver_program),
            pyth_legacy_program: key(p.pyth_legacy_program),
            liquidation_end_buffer_bps: (p.liquidation_end_buffer_bps != 0)
                .then_some(p.liquidation_end_buffer_bps),
            bankruptcy_dust_quote: (p.bankruptcy_dust_quote != 0)
                .then_some(p.bankruptcy_dust_quote),
            config_delay_secs: (p.config_delay_secs != 0).then_some(p.config_delay_secs),
            ..Default::default()
        }
    }

    /// Writes every `Some` setting into `group`, unvalidated: `configure_group::apply_options`
    /// validates first; the preview of a queued change (`Group::with_pending_change`) writes
    /// what was validated when it was queued.
    pub fn write_to(&self, group: &mut Group) {
        let set = |field: &mut u8, on: Option<bool>| {
            if let Some(on) = on {
                *field = on as u8;
            }
        };
        set(&mut group.paused, self.paused);
        set(&mut group.reduce_only, self.reduce_only);
        if let Some(key) = self.pyth_receiver_program {
            group.pyth_receiver_program = key;
        }
        if let Some(key) = self.pyth_legacy_program {
            group.pyth_legacy_program = key;
        }
        if let Some(buffer) = self.liquidation_end_buffer_bps {
            group.liquidation_end_buffer_bps = buffer;
        }
        if let Some(dust) = self.bankruptcy_dust_quote {
            group.bankruptcy_dust_quote = dust;
        }
        if let Some(delay) = self.config_delay_secs {
            group.config_delay_secs = delay;
        }
        if let Some(key) = self.emergency_admin {
            group.emergency_admin = key;
        }
    }

    /// Settings that only ever apply at once and cannot be queued.
    pub fn has_immediate_only_settings(&self) -> bool {
        self.paused.is_some() || self.reduce_only.is_some() || self.emergency_admin.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BankConfig {
        let mut c: BankConfig = bytemuck::Zeroable::zeroed();
        c.oracle_max_age_secs = 60;
        c.oracle_max_conf_bps = 200;
        c.init_asset_weight_bps = 8_000;
        c.maint_asset_weight_bps = 9_000;
        c.init_liab_weight_bps = 12_000;
        c.maint_liab_weight_bps = 11_000;
        c.liquidation_fee_bps = 500;
        c.deposit_limit_native = 1_000;
        c.borrow_limit_native = 1_000;
        c.deposit_weight_scale_start_quote = 5_000;
        c
    }

    fn needs_delay(change: impl FnOnce(&mut BankConfig)) -> bool {
        let old = config();
        let mut new = old;
        change(&mut new);
        bank_change_needs_delay(&old, &Pubkey::default(), &new, &Pubkey::default())
    }

    #[test]
    fn tightening_new_risk_applies_at_once() {
        assert!(!needs_delay(|_| {}));
        assert!(!needs_delay(|c| c.init_asset_weight_bps = 7_000));
        assert!(!needs_delay(|c| c.init_liab_weight_bps = 13_000));
        assert!(!needs_delay(|c| c.deposit_limit_native = 10));
        assert!(!needs_delay(|c| c.borrow_limit_native = 0));
        assert!(!needs_delay(|c| {
            c.net_borrow_limit_per_window_quote = 100;
            c.net_borrow_limit_window_secs = 60;
        }));
        // Every tightening at once is still immediate.
        assert!(!needs_delay(|c| {
            c.init_asset_weight_bps = 1;
            c.init_liab_weight_bps = 50_000;
            c.deposit_limit_native = 0;
        }));
    }

    #[test]
    fn everything_else_waits() {
        let waits: [fn(&mut BankConfig); 21] = [
            |c| c.init_asset_weight_bps = 8_001,
            |c| c.init_liab_weight_bps = 11_999,
            |c| c.deposit_limit_native = 1_001,
            |c| c.borrow_limit_native = 1_001,
            |c| c.maint_asset_weight_bps = 8_999,
            |c| c.maint_asset_weight_bps = 9_001,
            |c| c.maint_liab_weight_bps = 11_001,
            |c| c.maint_liab_weight_bps = 10_999,
            |c| c.liquidation_fee_bps = 501,
            |c| c.liquidation_fee_bps = 499,
            |c| c.insurance_fee_bps = 1,
            |c| c.oracle_max_age_secs = 61,
            |c| c.oracle_max_age_secs = 59,
            |c| c.oracle_max_conf_bps = 201,
            |c| c.oracle_conf_multiplier_bps = 1,
            |c| c.oracle_feed_id = [1; 32],
            |c| c.oracle_kind = 1,
            |c| c.deposit_weight_scale_start_quote = 4_999,
            |c| c.deposit_weight_scale_start_quote = 0,
            |c| c.max_rate_bps = 1,
            |c| c.optimal_utilization_bps = 1,
        ];
        for (i, change) in waits.into_iter().enumerate() {
            assert!(needs_delay(change), "change {i}");
        }
        // A tightening next to a change that waits still waits.
        assert!(needs_delay(|c| {
            c.init_asset_weight_bps = 7_000;
            c.maint_asset_weight_bps = 8_000;
        }));
        // Re-pinning the oracle waits, even with the same settings.
        assert!(bank_change_needs_delay(&config(), &Pubkey::default(), &config(), &crate::ID));
    }

    #[test]
    fn the_net_borrow_limit_may_only_tighten_at_once() {
        let with = |limit, window| {
            let mut c = config();
            c.net_borrow_limit_per_window_quote = limit;
            c.net_borrow_limit_window_secs = window;
            c
        };
        let waits = |old: BankConfig, new: BankConfig| {
            bank_change_needs_delay(&old, &Pubkey::default(), &new, &Pubkey::default())
        };
        assert!(!waits(with(100, 60), with(50, 60)));
        assert!(!waits(with(100, 60), with(100, 120))); // same allowance over a longer window
        assert!(!waits(with(0, 0), with(0, 60))); // off either way
        assert!(waits(with(100, 60), with(0, 0))); // turned off
        assert!(waits(with(100, 60), with(101, 60)));
        assert!(waits(with(100, 60), with(100, 30)));
    }

    #[test]
    fn group_changes_wait_only_in_a_live_group() {
        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.liquidation_end_buffer_bps = 500;
        group.bankruptcy_dust_quote = 1_000_000;
        let raise_buffer =
            GroupConfigOptions { liquidation_end_buffer_bps: Some(600), ..Default::default() };
        assert!(!raise_buffer.needs_delay(&group)); // setup
        group.config_delay_secs = 86_400;
        assert!(raise_buffer.needs_delay(&group));
        let same = GroupConfigOptions {
            liquidation_end_buffer_bps: Some(500),
            bankruptcy_dust_quote: Some(1_000_000),
            pyth_receiver_program: Some(group.pyth_receiver_program),
            ..Default::default()
        };
        assert!(!same.needs_delay(&group));
        let immediate = GroupConfigOptions {
            paused: Some(true),
            reduce_only: Some(false),
            emergency_admin: Some(crate::ID),
            config_delay_secs: Some(100_000),
            ..Default::default()
        };
        assert!(!immediate.needs_delay(&group));
        for waits in [
            GroupConfigOptions { config_delay_secs: Some(86_399), ..Default::default() },
            GroupConfigOptions { bankruptcy_dust_quote: Some(1), ..Default::default() },
            GroupConfigOptions { pyth_legacy_program: Some(crate::ID), ..Default::default() },
            GroupConfigOptions { pyth_receiver_program: Some(crate::ID), ..Default::default() },
        ] {
            assert!(waits.needs_delay(&group), "{waits:?}");
            // Round trip through the queued form.
            assert_eq!(GroupConfigOptions::from_pending(&waits.to_pending(1)), waits);
        }
    }

    #[test]
    fn withdrawals_keep_the_loosest_pre_tightening_weights_for_a_delay() {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.config = config(); // init 8,000 / 12,000
        assert_eq!(bank.exit_init_weights(0), None);
        let old = bank.config;
        let tighter = BankConfig { init_asset_weight_bps: 5_000, ..old };
        bank.open_exit_window(&old, &tighter, 100, 1_000);
        bank.config = tighter;
        assert_eq!(bank.exit_init_weights(100), Some((8_000, 12_000)));
        // A second tightening inside the window keeps the first window's weights, and extends it.
        let tightest = BankConfig { init_asset_weight_bps: 1, init_liab_weight_bps: 50_000, ..old };
        bank.open_exit_window(&tighter, &tightest, 600, 1_000);
        bank.config = tightest;
        assert_eq!(bank.exit_init_weights(1_599), Some((8_000, 12_000)));
        assert_eq!(bank.exit_init_weights(1_600), None, "the window closes after the delay");
        // A loosening (a queued change applied) opens nothing; nor does an unrelated change.
        let mut fresh: Bank = bytemuck::Zeroable::zeroed();
        fresh.config = config();
        fresh.open_exit_window(&tightest, &config(), 2_000, 1_000);
        fresh.open_exit_window(
            &config(),
            &BankConfig { deposit_limit_native: 0, ..config() },
            2_000,
            1_000,
        );
        assert_eq!(fresh.exit_init_weights(2_000), None);
        // Weights loosened after the tightening count as they are, never tighter than the old.
        bank.exit_weights_until_ts = 5_000;
        bank.config.init_asset_weight_bps = 9_000;
        assert_eq!(bank.exit_init_weights(4_000).map(|w| w.0), Some(9_000));
    }

    #[test]
    fn a_pending_change_previews_the_bank_and_group() {
        let mut bank: Bank = bytemuck::Zeroable::zeroed();
        bank.config = config();
        assert_eq!(bank.with_pending_change().config, config());
        let mut lowered = config();
        lowered.maint_asset_weight_bps = 8_500;
        bank.pending = PendingBankChange { apply_after_ts: 5, oracle: crate::ID, config: lowered };
        let after = bank.with_pending_change();
        assert_eq!((after.config, after.oracle), (lowered, crate::ID));
        assert!(!after.pending.is_queued());

        let mut group: Group = bytemuck::Zeroable::zeroed();
        group.bankruptcy_dust_quote = 7;
        group.pending =
            GroupConfigOptions { pyth_legacy_program: Some(crate::ID), ..Default::default() }
                .to_pending(9);
        let after = group.with_pending_change();
        assert_eq!((after.pyth_legacy_program, after.bankruptcy_dust_quote), (crate::ID, 7));
        assert!(!after.pending.is_queued());
    }
}
