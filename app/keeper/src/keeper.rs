//! The keeper loop: discover the group's accounts, evaluate them off chain, plan each
//! liquidation, and execute it with a compute-unit limit from simulation; write off bankrupt
//! accounts. Races (another keeper got there first) are normal outcomes, logged and passed over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchor_lang::Discriminator;
use anyhow::{anyhow, Context};
use cross_margin::events::{
    BankruptcyResolved, Liquidation, PerpBankruptcyResolved, PerpLiquidation, PnlSettled,
};
use cross_margin::health::PositionShares;

use cross_margin::perp::actions::SettleOutcome;
use cross_margin::perp::bankruptcy::PerpWriteOff;
use cross_margin::perp::liquidation::PerpLiquidationOutcome;
use cross_margin::state::{Bank, MarginAccount, PerpMarket};
use cross_margin_client::outcome::decode_events;
use cross_margin_client::perp_ix::health_accounts_with_perps;
use cross_margin_client::tx::{wire_size, MAX_TRANSACTION_SIZE};
use cross_margin_client::{ix, Instruction, Keypair, Pubkey, Signer};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_message::{v0, AddressLookupTableAccount, Message, VersionedMessage};
use solana_transaction::versioned::VersionedTransaction;

use crate::backend::{AccountData, Backend, Filter, Landed, RetryPolicy};
use crate::evaluate::{evaluate, Evaluation, Shard, Status, Target};
use crate::fees::{priority_fee, DynamicFee};
use crate::inventory::{Inventory, InventoryConfig, UnwindMode};
use crate::keeper_outcome::{classify, liquidation_done};
use crate::market::{decode, decode_margin_account, DecodeError, MarketState, BANK_GROUP_OFFSET};
use crate::metrics::{kind_of, Metrics};
use crate::perps::PERP_GROUP_OFFSET;
use crate::plan::{plan_liquidation_with, NoPlan, Plan};
use crate::swap::SwapAdapter;

/// The most a transaction may ask for.
const MAX_COMPUTE_UNITS: u32 = 1_400_000;

#[derive(Debug, Clone)]
pub struct KeeperConfig {
    pub group: Pubkey,
    /// The keeper's own margin account (owned by its signer): it takes over the debt.
    pub liquidator_account: Pubkey,
    pub shard: Shard,
    /// Priority fee, micro-lamports per compute unit: the floor of the dynamic fee, the fee
    /// itself without one.
    pub priority_fee_micro_lamports: u64,
    /// A percentile of recent fees for the accounts written, capped (`fees::priority_fee`).
    pub dynamic_fee: Option<DynamicFee>,
    /// Compute-unit limit = simulated units × (1 + margin) + `compute_extra`.
    pub compute_margin_bps: u32,
    /// Covers what a simulation cannot see: the transaction lands a second or more later, so
    /// every bank it writes accrues interest first (about 720 CU per bank on the SBF build; a
    /// write-off with leftover deposits accrues each of their banks too).
    pub compute_extra: u32,
    /// Plan and simulate, but send nothing.
    pub dry_run: bool,
    pub retry: RetryPolicy,
    /// For accounts whose liquidation does not fit a legacy transaction.
    pub lookup_table: Option<AddressLookupTableAccount>,
    /// Liquidation steps on one account per round.
    pub max_steps_per_account: usize,
    /// What to do with what liquidations leave in the keeper's account (`inventory.rs`).
    pub inventory: InventoryConfig,
    /// A liquidation whose predicted fee (quote native units, micro-USD) is below this is
    /// skipped (`Skipped::BelowMinProfit`); 0 turns the check off. Write-offs and settlements
    /// are never skipped.
    pub min_profit_quote: i128,
    /// Counters and gauges for `/metrics` (crate::metrics); a private one by default.
    pub metrics: Arc<Metrics>,
}

impl KeeperConfig {
    pub fn new(group: Pubkey, liquidator_account: Pubkey) -> Self {
        Self {
            group,
            liquidator_account,
            shard: Shard::ALL,
            priority_fee_micro_lamports: 0,
            dynamic_fee: Some(DynamicFee::default()),
            compute_margin_bps: 1_000,
            compute_extra: 4_000,
            dry_run: false,
            retry: RetryPolicy::default(),
            lookup_table: None,
            max_steps_per_account: 16,
            inventory: InventoryConfig::default(),
            min_profit_quote: 0,
            metrics: Arc::new(Metrics::new()),
        }
    }
}

/// One liquidation the keeper executed.
#[derive(Debug, Clone)]
pub struct LiquidationDone {
    pub signature: String,
    pub event: Liquidation,
    /// Consumed, and the limit the keeper set from simulation.
    pub compute_units: u64,
    pub compute_limit: u32,
    /// The liquidation fee earned, valued at the prices the program used (quote units).
    pub profit_quote: i128,
}

/// One bankruptcy write-off the keeper executed.
#[derive(Debug, Clone)]
pub struct ResolutionDone {
    pub signature: String,
    pub event: BankruptcyResolved,
    pub compute_units: u64,
}

/// One `liquidate_perp` the keeper executed.
#[derive(Debug, Clone)]
pub struct PerpLiquidationDone {
    pub signature: String,
    pub event: PerpLiquidation,
    pub compute_units: u64,
    pub compute_limit: u32,
    /// The liquidation fee earned, valued at the settle bank's oracle price (quote units).
    pub profit_quote: i128,
    /// What the keeper predicted (`perp::liquidation::liquidate` on copies).
    pub planned: PerpLiquidationOutcome,
}

/// One `settle_pnl` the keeper sent (it earns nothing: it lets collateral pay a loss).
#[derive(Debug, Clone)]
pub struct SettlementDone {
    pub signature: String,
    pub event: PnlSettled,
    pub compute_units: u64,
    /// What the keeper predicted (`perp::actions::settle` on copies).
    pub planned: SettleOutcome,
}

/// One `resolve_perp_bankruptcy` the keeper executed.
#[derive(Debug, Clone)]
pub struct PerpResolutionDone {
    pub signature: String,
    pub event: PerpBankruptcyResolved,
    pub compute_units: u64,
    /// What the keeper predicted (`perp::bankruptcy::write_off` on copies).
    pub planned: PerpWriteOff,
}

/// What happened to an account the keeper looked at but did not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Another keeper (or the owner) changed it first: a normal outcome.
    LostRace { account: Pubkey, error: String },
    /// No step the program accepts, or the liquidator could not carry one.
    NoPlan { account: Pubkey, reason: String },
    /// Planned and simulated, not sent (`--dry-run`).
    DryRun { account: Pubkey, compute_units: u64 },
    /// The program refused it for another reason.
    Refused { account: Pubkey, error: String },
    /// The planned step's predicted fee (quote native units) is below `min_profit_quote`.
    BelowMinProfit { account: Pubkey, predicted_quote: i128 },
}

#[derive(Debug, Default, Clone)]
pub struct RoundReport {
    pub accounts: usize,
    pub undecodable: usize,
    pub healthy: usize,
    pub liquidatable: usize,
    pub bankrupt: usize,
    pub unpriced: usize,
    pub liquidations: Vec<LiquidationDone>,
    pub resolutions: Vec<ResolutionDone>,
    pub perp_liquidations: Vec<PerpLiquidationDone>,
    pub settlements: Vec<SettlementDone>,
    pub perp_resolutions: Vec<PerpResolutionDone>,
    pub skipped: Vec<Skipped>,
    /// Inventory unwound (`unwind: after`, or inside a flash-loan liquidation).
    pub unwinds: Vec<crate::keeper_inventory::UnwindDone>,
    /// Accounts not liquidatable now that will be once the queued configuration changes apply
    /// (admin safety: a change that can hurt positions waits the group's delay).
    pub liquidatable_after_pending: Vec<Pubkey>,
}

impl RoundReport {
    pub fn lost_races(&self) -> usize {
        self.skipped.iter().filter(|s| matches!(s, Skipped::LostRace { .. })).count()
    }

    /// One structured log line for the round.
    pub fn log(&self) {
        tracing::info!(
            accounts = self.accounts,
            liquidatable = self.liquidatable,
            bankrupt = self.bankrupt,
            liquidations = self.liquidations.len(),
            resolutions = self.resolutions.len(),
            perp_liquidations = self.perp_liquidations.len(),
            settlements = self.settlements.len(),
            perp_resolutions = self.perp_resolutions.len(),
            lost_races = self.lost_races(),
            "round done"
        );
        if !self.liquidatable_after_pending.is_empty() {
            tracing::warn!(
                accounts = ?self.liquidatable_after_pending,
                "queued configuration changes will make these accounts liquidatable"
            );
        }
    }
}

/// The group's state as discovered in one round.
pub struct Discovered {
    pub market: MarketState,
    /// The market once every queued configuration change applies, if any is queued.
    pub after_pending: Option<MarketState>,
    pub accounts: Vec<(Pubkey, MarginAccount)>,
    pub undecodable: Vec<(Pubkey, DecodeError)>,
}

/// What discovery reads before decoding: the group, its banks and perp markets, the oracles they
/// pin (and those queued changes would pin), and the chain's unix time. The websocket detection
/// (`watch`) keeps one up to date and builds its market the same way.
#[derive(Debug, Clone)]
pub struct RawGroup {
    pub group_key: Pubkey,
    pub group: AccountData,
    pub banks: Vec<(Pubkey, AccountData)>,
    pub perps: Vec<(Pubkey, AccountData)>,
    pub oracles: HashMap<Pubkey, AccountData>,
    pub now: i64,
}

/// What [`RawGroup::market`] builds.
pub struct GroupMarket {
    pub market: MarketState,
    /// The market once every queued configuration change applies, if any is queued.
    pub after_pending: Option<MarketState>,
    /// Banks and perp markets that did not decode.
    pub undecodable: Vec<(Pubkey, DecodeError)>,
}

impl RawGroup {
    /// The market now, the market once queued changes apply (if any are queued), and what did
    /// not decode.
    pub fn market(&self) -> anyhow::Result<GroupMarket> {
        let key = self.group_key;
        let (mut market, mut undecodable) =
            MarketState::from_accounts(key, &self.group, &self.banks, &self.oracles, self.now)
                .map_err(|e| anyhow!("group {key}: {e}"))?;
        undecodable.extend(market.add_perp_markets(&self.perps, &self.oracles, false));
        let after_pending = match market.has_pending_changes() {
            true => {
                let mut after = MarketState::after_pending_changes(
                    key,
                    &self.group,
                    &self.banks,
                    &self.oracles,
                    self.now,
                )
                .map_err(|e| anyhow!("group {key}: {e}"))?;
                after.add_perp_markets(&self.perps, &self.oracles, true);
                Some(after)
            }
            false => None,
        };
        Ok(GroupMarket { market, after_pending, undecodable })
    }
}

/// The oracles the banks and perp markets pin, and those their queued changes would pin.
pub fn oracle_keys(
    banks: &[(Pubkey, AccountData)],
    perps: &[(Pubkey, AccountData)],
) -> Vec<Pubkey> {
    let bank_oracles =
        banks.iter().filter_map(|(_, raw)| decode::<Bank>(raw).ok()).flat_map(|bank| {
            let queued = bank.pending.is_queued().then_some(bank.pending.oracle);
            std::iter::once(bank.oracle).chain(queued)
        });
    let perp_oracles =
        perps.iter().filter_map(|(_, raw)| decode::<PerpMarket>(raw).ok()).flat_map(|m| {
            let queued = m.pending.is_queued().then_some(m.pending.oracle);
            std::iter::once(m.oracle).chain(queued)
        });
    bank_oracles.chain(perp_oracles).collect()
}

/// `getProgramAccounts` filters: the group's banks.
pub fn bank_filters(group: &Pubkey) -> [Filter; 3] {
    [
        Filter::DataSize((8 + Bank::SIZE) as u64),
        Filter::Memcmp { offset: 0, bytes: Bank::DISCRIMINATOR.to_vec() },
        Filter::Memcmp { offset: BANK_GROUP_OFFSET, bytes: group.to_bytes().to_vec() },
    ]
}

/// The group's perp markets.
pub fn perp_filters(group: &Pubkey) -> [Filter; 3] {
    [
        Filter::DataSize((8 + PerpMarket::SIZE) as u64),
        Filter::Memcmp { offset: 0, bytes: PerpMarket::DISCRIMINATOR.to_vec() },
        Filter::Memcmp { offset: PERP_GROUP_OFFSET, bytes: group.to_bytes().to_vec() },
    ]
}

/// The group's margin accounts.
pub fn account_filters(group: &Pubkey) -> [Filter; 3] {
    [
        Filter::DataSize((8 + MarginAccount::SIZE) as u64),
        Filter::Memcmp { offset: 0, bytes: MarginAccount::DISCRIMINATOR.to_vec() },
        Filter::Memcmp { offset: BANK_GROUP_OFFSET, bytes: group.to_bytes().to_vec() },
    ]
}

pub struct Keeper {
    pub config: KeeperConfig,
    pub(crate) signer: Keypair,
    /// The venue unwinds swap through (`with_swap_adapter`).
    pub(crate) swap: Option<Box<dyn SwapAdapter + Send + Sync>>,
}

impl Keeper {
    pub fn new(config: KeeperConfig, signer: Keypair) -> Self {
        Self { config, signer, swap: None }
    }

    /// The keeper with a swap venue for unwinding its inventory.
    pub fn with_swap_adapter(mut self, adapter: Box<dyn SwapAdapter + Send + Sync>) -> Self {
        self.swap = Some(adapter);
        self
    }

    pub fn signer(&self) -> Pubkey {
        self.signer.pubkey()
    }

    /// Runs rounds every `interval` until `stop` is set (Ctrl-C).
    pub fn run(
        &self,
        backend: &mut dyn Backend,
        interval: Duration,
        stop: &AtomicBool,
    ) -> anyhow::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            match self.run_round(backend, stop) {
                Ok(report) => report.log(),
                Err(error) => tracing::error!(%error, "round failed; trying again next round"),
            }
            let mut waited = Duration::ZERO;
            while waited < interval && !stop.load(Ordering::Relaxed) {
                let step = Duration::from_millis(100).min(interval - waited);
                std::thread::sleep(step);
                waited += step;
            }
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// The group, its banks and oracles, and every margin account of this keeper's shard.
    pub fn discover(&self, backend: &mut dyn Backend) -> anyhow::Result<Discovered> {
        let raw = self.fetch_group(backend)?;
        let GroupMarket { market, after_pending, mut undecodable } = raw.market()?;
        let filters = account_filters(&self.config.group);
        let raw_accounts = self
            .config
            .retry
            .run("accounts", || backend.program_accounts(&cross_margin::ID, &filters))?;
        let mut accounts = Vec::with_capacity(raw_accounts.len());
        for (address, raw) in raw_accounts {
            if !self.config.shard.contains(&address) {
                continue;
            }
            match decode_margin_account(&raw) {
                Ok(account) => accounts.push((address, account)),
                Err(error) => {
                    tracing::warn!(%address, %error, "skipping an undecodable account");
                    undecodable.push((address, error));
                }
            }
        }
        Ok(Discovered { market, after_pending, accounts, undecodable })
    }

    /// The group, its banks, perp markets and oracles, and the chain's time, undecoded.
    pub fn fetch_group(&self, backend: &mut dyn Backend) -> anyhow::Result<RawGroup> {
        let retry = self.config.retry;
        let group_key = self.config.group;
        let program = cross_margin::ID;
        let (bank_filters, perp_filters) = (bank_filters(&group_key), perp_filters(&group_key));
        let now = retry.run("clock", || backend.unix_timestamp())?;
        let group = retry
            .run("group", || backend.multiple_accounts(&[group_key]))?
            .pop()
            .flatten()
            .ok_or_else(|| anyhow!("group {group_key} not found"))?;
        let banks = retry.run("banks", || backend.program_accounts(&program, &bank_filters))?;
        let perps =
            retry.run("perp markets", || backend.program_accounts(&program, &perp_filters))?;
        let oracle_keys = oracle_keys(&banks, &perps);
        let oracles = retry.run("oracles", || backend.multiple_accounts(&oracle_keys))?;
        let oracles: HashMap<Pubkey, AccountData> = oracle_keys
            .into_iter()
            .zip(oracles)
            .filter_map(|(key, account)| Some((key, account?)))
            .collect();
        Ok(RawGroup { group_key, group, banks, perps, oracles, now })
    }

    /// One round: discover, evaluate, write off bankrupt accounts, liquidate the liquidatable
    /// ones (lowest health first). Recorded in the config's metrics.
    pub fn run_round(
        &self,
        backend: &mut dyn Backend,
        stop: &AtomicBool,
    ) -> anyhow::Result<RoundReport> {
        let started = Instant::now();
        let result = self.round(backend, stop, started);
        let metrics = &self.config.metrics;
        match &result {
            Ok(report) => {
                metrics.observe_detection_lag(started.elapsed());
                metrics.round_done(report, started.elapsed());
            }
            Err(_) => metrics.round_failed(),
        }
        result
    }

    fn round(
        &self,
        backend: &mut dyn Backend,
        stop: &AtomicBool,
        started: Instant,
    ) -> anyhow::Result<RoundReport> {
        let discovered = self.discover(backend)?;
        self.config.metrics.snapshot_taken(started);
        let evaluation = evaluate(&discovered.market, &discovered.accounts);
        let mut report = self.act(backend, &discovered, &evaluation, stop)?;
        report.liquidatable_after_pending = liquidatable_after_pending(&discovered, &evaluation);
        Ok(report)
    }

    /// Acts on an evaluation (split from `run_round` so that tests can make two keepers
    /// evaluate the same state before either acts).
    pub fn act(
        &self,
        backend: &mut dyn Backend,
        discovered: &Discovered,
        evaluation: &Evaluation,
        stop: &AtomicBool,
    ) -> anyhow::Result<RoundReport> {
        self.act_observed(backend, discovered, evaluation, stop, &mut |_, _| {})
    }

    /// [`act`](Self::act), calling `observe(report so far, target)` before each account it
    /// works on (progress bars, the stress lab's bookkeeping).
    pub fn act_observed(
        &self,
        backend: &mut dyn Backend,
        discovered: &Discovered,
        evaluation: &Evaluation,
        stop: &AtomicBool,
        observe: &mut dyn FnMut(&RoundReport, &Target),
    ) -> anyhow::Result<RoundReport> {
        let mut report = RoundReport {
            accounts: discovered.accounts.len(),
            undecodable: discovered.undecodable.len(),
            healthy: evaluation.healthy,
            liquidatable: evaluation.liquidatable.len(),
            bankrupt: evaluation.bankrupt.len(),
            unpriced: evaluation.unpriced.len(),
            ..RoundReport::default()
        };
        for target in &evaluation.unpriced {
            let account = target.address;
            match target.assessment.status {
                Status::Unpriced { bank_index, error } => {
                    tracing::warn!(%account, bank_index, ?error, "cannot price an account")
                }
                Status::PerpUnpriced { market_index, error } => {
                    tracing::warn!(%account, market_index, ?error, "cannot price a perp slot")
                }
                _ => {}
            }
        }
        for target in &evaluation.bankrupt {
            if stop.load(Ordering::Relaxed) {
                return Ok(report);
            }
            observe(&report, target);
            let account = discovered.accounts[target.index].1;
            if account.has_perps() {
                self.work_perp_account(
                    backend,
                    &discovered.market,
                    target.address,
                    account,
                    &mut report,
                )?;
                continue;
            }
            self.resolve(backend, &discovered.market, target.address, account, &mut report)?;
        }
        for target in &evaluation.liquidatable {
            if stop.load(Ordering::Relaxed) {
                return Ok(report);
            }
            if target.address == self.config.liquidator_account {
                continue;
            }
            observe(&report, target);
            let (market, account) = (&discovered.market, discovered.accounts[target.index].1);
            if account.has_perps() {
                self.work_perp_account(backend, market, target.address, account, &mut report)?;
            } else {
                self.liquidate_account(
                    backend,
                    market.clone(),
                    target.address,
                    account,
                    &mut report,
                )?;
            }
        }
        Ok(report)
    }

    /// Liquidates one account step by step until it is no longer liquidatable (or a step fails).
    pub(crate) fn liquidate_account(
        &self,
        backend: &mut dyn Backend,
        market: MarketState,
        address: Pubkey,
        liquidatee: MarginAccount,
        report: &mut RoundReport,
    ) -> anyhow::Result<()> {
        // Fetched per account: earlier liquidations this round changed it.
        let liquidator = self.fetch_margin_account(backend, &self.config.liquidator_account)?;
        let mut state = (market, liquidatee, liquidator);
        for step in 0..self.config.max_steps_per_account {
            let (market, liquidatee, liquidator) = &state;
            let check = self.liquidator_check(market, liquidator);
            let allowed = |liab, asset| self.pair_allowed(market, liab, asset);
            let plan = match plan_liquidation_with(market, liquidatee, liquidator, check, &allowed)
            {
                Ok(plan) => plan,
                Err(NoPlan::NotLiquidatable) if step > 0 => return Ok(()),
                Err(NoPlan::NotLiquidatable) => {
                    // Evaluated liquidatable with stored indices, not with the pair accrued.
                    report.skipped.push(Skipped::NoPlan {
                        account: address,
                        reason: NoPlan::NotLiquidatable.to_string(),
                    });
                    return Ok(());
                }
                Err(reason) => {
                    tracing::warn!(account = %address, %reason, "not liquidating");
                    report
                        .skipped
                        .push(Skipped::NoPlan { account: address, reason: reason.to_string() });
                    return Ok(());
                }
            };
            if let Err(skipped) = self.profitable(address, plan.profit_quote) {
                report.skipped.push(skipped);
                return Ok(());
            }
            let unwind = self.config.inventory.unwind;
            let executed = match unwind {
                UnwindMode::FlashLoan => self.execute_flash_liquidation(
                    backend, market, address, liquidatee, liquidator, &plan, report,
                )?,
                _ => self.execute_liquidation(backend, market, address, liquidatee, &plan)?,
            };
            match executed {
                Ok(done) => {
                    tracing::info!(
                        liquidatee = %address,
                        liab_bank = plan.liab_bank,
                        asset_bank = plan.asset_bank,
                        liab = done.event.liab_amount,
                        collateral = done.event.asset_to_liquidator,
                        maint_after = done.event.maint_health_after as i64,
                        compute_units = done.compute_units,
                        "liquidated"
                    );
                    let finished = !done.event.still_being_liquidated || done.event.bankrupt;
                    let inventory = Inventory {
                        liab_bank: plan.liab_bank,
                        asset_bank: plan.asset_bank,
                        collateral: done.event.asset_to_liquidator,
                        debt: done.event.liab_amount,
                    };
                    report.liquidations.push(done);
                    if unwind == UnwindMode::After {
                        self.unwind_after(backend, market, address, inventory, report)?;
                    }
                    if finished {
                        if let Ok(account) = self.fetch_margin_account(backend, &address) {
                            if account.bankrupt != 0 {
                                let market = self.refresh_market(backend, market)?;
                                self.resolve(backend, &market, address, account, report)?;
                            }
                        }
                        return Ok(());
                    }
                    state = (
                        self.refresh_market(backend, market)?,
                        self.fetch_margin_account(backend, &address)?,
                        self.fetch_margin_account(backend, &self.config.liquidator_account)?,
                    );
                }
                Err(skipped) => {
                    report.skipped.push(skipped);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Builds, simulates (for the CU limit) and sends one liquidation.
    pub(crate) fn execute_liquidation(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        liquidatee_key: Pubkey,
        liquidatee: &MarginAccount,
        plan: &Plan,
    ) -> anyhow::Result<Result<LiquidationDone, Skipped>> {
        let bank = |index: u16| market.bank_ref(index).expect("planned banks exist");
        let perp = |index: u16| market.perp_ref(index).expect("the account's markets exist");
        let liquidatee_health = health_accounts_with_perps(liquidatee, bank, perp);
        let liquidator_health = ix::health_accounts(&plan.liquidator_after, bank);
        let instruction = ix::liquidate(
            self.config.group,
            self.config.liquidator_account,
            self.signer.pubkey(),
            liquidatee_key,
            bank(plan.liab_bank).address,
            bank(plan.asset_bank).address,
            plan.max_liab_amount,
            liquidatee_health,
            liquidator_health,
        );
        let sent = match self.send(backend, liquidatee_key, instruction)? {
            Ok(sent) => sent,
            Err(skipped) => return Ok(Err(skipped)),
        };
        let done = liquidation_done(sent)?;
        self.config.metrics.profit("liquidate", plan.profit_quote, done.profit_quote);
        Ok(Ok(done))
    }

    /// Writes off every borrow of a bankrupt account, one bank at a time.
    pub(crate) fn resolve(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
        address: Pubkey,
        mut account: MarginAccount,
        report: &mut RoundReport,
    ) -> anyhow::Result<()> {
        loop {
            let Some(liab) = account
                .active_positions()
                .find(|p| matches!(p.shares(), Some(PositionShares::Borrow(_))))
                .map(|p| p.bank_index)
            else {
                return Ok(());
            };
            let Some(liab_bank) = market.bank_ref(liab) else { return Ok(()) };
            let health = ix::write_off_accounts(&account, |i| {
                market.bank_ref(i).expect("the account's banks exist")
            });
            let instruction =
                ix::resolve_bankruptcy(self.config.group, address, liab_bank.address, health);
            match self.send(backend, address, instruction)? {
                Ok((landed, _)) => {
                    if let Some(event) = decode_events::<BankruptcyResolved>(&landed.logs).pop() {
                        tracing::info!(
                            account = %address,
                            bank = liab,
                            debt = event.debt,
                            from_insurance = event.from_insurance,
                            socialized = event.socialized,
                            "bankruptcy resolved"
                        );
                        report.resolutions.push(ResolutionDone {
                            signature: landed.signature,
                            event,
                            compute_units: landed.compute_units,
                        });
                    }
                }
                Err(skipped) => {
                    report.skipped.push(skipped);
                    return Ok(());
                }
            }
            account = self.fetch_margin_account(backend, &address)?;
        }
    }

    /// Simulates `instruction` to size the compute-unit limit, then sends it (unless dry run).
    /// Program refusals come back as `Skipped`; only transport failures are errors.
    pub(crate) fn send(
        &self,
        backend: &mut dyn Backend,
        account: Pubkey,
        instruction: Instruction,
    ) -> anyhow::Result<Result<(Landed, u32), Skipped>> {
        self.send_all(backend, account, &[instruction], &[])
    }

    /// [`send`](Self::send) for several instructions in one transaction (all or nothing),
    /// with the lookup tables they need beyond the configured one (a swap route's). Counted in
    /// the metrics under the kind of its first instruction the keeper names (a flash-loan
    /// liquidation is a `liquidate`).
    pub(crate) fn send_all(
        &self,
        backend: &mut dyn Backend,
        account: Pubkey,
        instructions: &[Instruction],
        tables: &[AddressLookupTableAccount],
    ) -> anyhow::Result<Result<(Landed, u32), Skipped>> {
        let kind = instructions.iter().map(kind_of).find(|k| *k != "other").unwrap_or("other");
        let (retry, metrics) = (self.config.retry, &self.config.metrics);
        // The probe carries the same price instruction as the transaction sent, so that the
        // simulated units are the units the transaction uses.
        let fee = self.priority_fee(backend, instructions);
        let probe = self.transaction(backend, MAX_COMPUTE_UNITS, fee, instructions, tables)?;
        let simulation = retry.run("simulate", || backend.simulate(&probe))?;
        if let Some(rejection) = simulation.rejection {
            metrics.tx_failed(kind, "simulate", &rejection.describe());
            return Ok(Err(classify(account, &rejection)));
        }
        let margin = simulation.compute_units * u64::from(self.config.compute_margin_bps) / 10_000;
        let limit = (simulation.compute_units + margin + u64::from(self.config.compute_extra))
            .min(u64::from(MAX_COMPUTE_UNITS)) as u32;
        if self.config.dry_run {
            tracing::info!(%account, compute_units = simulation.compute_units, "dry run: not sending");
            return Ok(Err(Skipped::DryRun { account, compute_units: simulation.compute_units }));
        }
        let tx = self.transaction(backend, limit, fee, instructions, tables)?;
        metrics.tx_sent(kind);
        let sent = retry.run("send", || backend.send_and_confirm(&tx)).inspect_err(|_| {
            metrics.tx_failed(kind, "send", "transport");
        })?;
        match sent {
            Ok(landed) => {
                metrics.tx_landed(kind);
                Ok(Ok((landed, limit)))
            }
            Err(rejection) => {
                metrics.tx_failed(kind, "send", &rejection.describe());
                Ok(Err(classify(account, &rejection)))
            }
        }
    }

    /// A signed transaction with the compute budget set: legacy if it fits and needs no extra
    /// tables, else v0 through the configured lookup table and `extra`.
    fn transaction(
        &self,
        backend: &mut dyn Backend,
        compute_limit: u32,
        fee_micro_lamports: u64,
        body: &[Instruction],
        extra: &[AddressLookupTableAccount],
    ) -> anyhow::Result<VersionedTransaction> {
        let mut instructions =
            vec![ComputeBudgetInstruction::set_compute_unit_limit(compute_limit)];
        if fee_micro_lamports > 0 {
            instructions.push(ComputeBudgetInstruction::set_compute_unit_price(fee_micro_lamports));
        }
        instructions.extend_from_slice(body);
        let blockhash = self.config.retry.run("blockhash", || backend.latest_blockhash())?;
        let payer = self.signer.pubkey();
        let legacy = Message::new_with_blockhash(&instructions, Some(&payer), &blockhash);
        let tx = VersionedTransaction::try_new(VersionedMessage::Legacy(legacy), &[&self.signer])
            .context("signing")?;
        if wire_size(&tx) <= MAX_TRANSACTION_SIZE && extra.is_empty() {
            return Ok(tx);
        }
        let tables: Vec<_> = self.config.lookup_table.iter().chain(extra).cloned().collect();
        if tables.is_empty() {
            let size = wire_size(&tx);
            return Err(anyhow!(
                "transaction of {size} bytes exceeds {MAX_TRANSACTION_SIZE}: pass --lookup-table"
            ));
        }
        let message = v0::Message::try_compile(&payer, &instructions, &tables, blockhash)
            .context("compiling a v0 message")?;
        VersionedTransaction::try_new(VersionedMessage::V0(message), &[&self.signer])
            .context("signing")
    }

    /// The priority fee for `instructions`: the configured policy over the recent fees of the
    /// accounts they write. Without an answer from the node, the floor (logged).
    fn priority_fee(&self, backend: &mut dyn Backend, instructions: &[Instruction]) -> u64 {
        let floor = self.config.priority_fee_micro_lamports;
        let Some(dynamic) = self.config.dynamic_fee else { return floor };
        let mut writable: Vec<Pubkey> = instructions
            .iter()
            .flat_map(|i| i.accounts.iter().filter(|a| a.is_writable).map(|a| a.pubkey))
            .collect();
        writable.sort();
        writable.dedup();
        match backend.recent_prioritization_fees(&writable) {
            Ok(recent) => priority_fee(floor, Some(dynamic), &recent),
            Err(error) => {
                tracing::warn!(%error, "no recent prioritization fees; paying the floor");
                floor
            }
        }
    }

    pub(crate) fn fetch_margin_account(
        &self,
        backend: &mut dyn Backend,
        address: &Pubkey,
    ) -> anyhow::Result<MarginAccount> {
        let raw = self
            .config
            .retry
            .run("account", || backend.multiple_accounts(&[*address]))?
            .pop()
            .flatten()
            .ok_or_else(|| anyhow!("account {address} not found"))?;
        decode_margin_account(&raw).map_err(|e| anyhow!("account {address}: {e}"))
    }

    /// The market with fresh banks, perp markets, oracles and clock.
    pub(crate) fn refresh_market(
        &self,
        backend: &mut dyn Backend,
        market: &MarketState,
    ) -> anyhow::Result<MarketState> {
        let retry = self.config.retry;
        let banks: Vec<Pubkey> = market.banks.iter().flatten().map(|b| b.address).collect();
        let perps: Vec<Pubkey> = market.perps.iter().flatten().map(|p| p.address).collect();
        let oracles = market.oracle_keys();
        let mut keys = banks.clone();
        keys.extend(perps.iter().copied());
        keys.push(market.group_address);
        keys.extend(oracles.iter().copied());
        let fetched = retry.run("refresh", || backend.multiple_accounts(&keys))?;
        let now = retry.run("clock", || backend.unix_timestamp())?;
        let (bank_accounts, rest) = fetched.split_at(banks.len());
        let (perp_accounts, rest) = rest.split_at(perps.len());
        let group = rest[0].clone().ok_or_else(|| anyhow!("group disappeared"))?;
        let present =
            |keys: Vec<Pubkey>, raw: &[Option<AccountData>]| -> Vec<(Pubkey, AccountData)> {
                keys.into_iter()
                    .zip(raw.iter().cloned())
                    .filter_map(|(key, raw)| Some((key, raw?)))
                    .collect()
            };
        let bank_accounts = present(banks, bank_accounts);
        let perp_accounts = present(perps, perp_accounts);
        let oracle_accounts: HashMap<Pubkey, AccountData> =
            present(oracles, &rest[1..]).into_iter().collect();
        let (mut fresh, _) = MarketState::from_accounts(
            market.group_address,
            &group,
            &bank_accounts,
            &oracle_accounts,
            now,
        )
        .map_err(|e| anyhow!("group: {e}"))?;
        fresh.add_perp_markets(&perp_accounts, &oracle_accounts, false);
        Ok(fresh)
    }
}

/// Accounts healthy now (by `now`'s evaluation) that the market after the queued changes calls
/// liquidatable or bankrupt.
pub fn liquidatable_after_pending(discovered: &Discovered, now: &Evaluation) -> Vec<Pubkey> {
    let Some(after) = &discovered.after_pending else { return Vec::new() };
    let later = evaluate(after, &discovered.accounts);
    let already: std::collections::HashSet<Pubkey> =
        now.liquidatable.iter().chain(&now.bankrupt).map(|t| t.address).collect();
    later
        .liquidatable
        .iter()
        .chain(&later.bankrupt)
        .map(|t| t.address)
        .filter(|a| !already.contains(a))
        .collect()
}
