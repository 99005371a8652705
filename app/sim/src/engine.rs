//! One run of a scenario on the embedded chain: the real program, the reference keepers, and
//! the liquidation feedback loop (liquidators sell what they seize into the market model, which
//! moves the next step's oracle price). Invariants are checked at every step; a violation stops
//! the run with an error.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{anyhow, Result};
use cross_margin::error::MarginError;
use cross_margin::events::{BankruptcyResolved, Liquidation};
use cross_margin::health::PositionShares;
use cross_margin::positions;
use cross_margin::state::BankConfig;
use cross_margin::state::{Bank, MarginAccount, OracleKind};
use cross_margin_client::ix::BankRef;
use cross_margin_client::outcome::Failed;
use cross_margin_client::pyth::{Ema, Quote};
use cross_margin_client::{EmbeddedChain, Keypair, Pubkey};
use cross_margin_keeper::backend::embedded::EmbeddedBackend;
use cross_margin_keeper::evaluate::{assess, Shard, Status};
use cross_margin_keeper::keeper::{Discovered, RoundReport, Skipped};
use cross_margin_keeper::{Keeper, KeeperConfig};
use cross_margin_testkit::sandbox::{Sandbox, User};

use crate::capacity::CapacityRow;
use crate::invariants;
use crate::lender_run::LenderLedger;
use crate::market_model::{exogenous_path, AssetMarket, PythEma, Rng};
use crate::noise;
use crate::perp_engine::{perp_liquidation_metrics, PerpBook, PerpStepMetrics};
use crate::scenario::{OracleFormat, Scenario};

/// The liquidation-capacity table: shocks by the program's view, seizures by the keeper's plan.
mod capacity;
/// The scripted events of a step (the attacker, the lending open-interest collapse).
mod events;
/// Calibration to target utilizations, the lenders' run, and each bank's liquidity and rates.
mod markets;

pub use markets::{BankLiquidity, BankSetup};

/// Unix time every run starts at.
pub const START_TIME: i64 = 1_800_000_000;

/// What one step looked like, after the keepers acted.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetrics {
    pub step: usize,
    /// Oracle price per bank (with feedback if on) and the exogenous price.
    pub prices: Vec<f64>,
    pub exogenous: Vec<f64>,
    /// The EMA (stable price) each oracle account carries; the price itself without one.
    pub stable_prices: Vec<f64>,
    pub liquidations: usize,
    pub liquidated_debt_usd: f64,
    pub bankruptcies: usize,
    /// Cumulative, dollars at the prices of the time.
    pub bad_debt_usd: f64,
    pub insurance_paid_usd: f64,
    /// Insurance funds now, dollars at current prices.
    pub insurance_usd: f64,
    /// Collateral the liquidators sold this step, dollars.
    pub sold_usd: f64,
    /// Maint health / maint-weighted liabilities over accounts with debt: 5th, 25th, 50th
    /// percentiles (0 = at the liquidation threshold).
    pub health_p5: f64,
    pub health_p25: f64,
    pub health_p50: f64,
    pub accounts_with_debt: usize,
    /// Liquidatable after the keepers acted (e.g. no keeper could carry them).
    pub liquidatable_left: usize,
    pub utilization_bps: Vec<u32>,
    pub borrow_apr_bps: Vec<u32>,
    pub deposits_usd: f64,
    pub borrows_usd: f64,
    /// Per perp market of the scenario, in order.
    pub perps: Vec<PerpStepMetrics>,
    /// Per bank: deposit rate, liquidity, the lenders' run.
    pub liquidity: Vec<BankLiquidity>,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub feedback: bool,
    pub accounts: usize,
    pub whales: usize,
    /// Borrows the population could not open (liquidity, health), counted not hidden.
    pub borrows_refused: usize,
    /// Perp orders the program refused at setup (health, open-interest caps).
    pub perp_orders_refused: usize,
    pub steps: Vec<StepMetrics>,
    pub setup_secs: f64,
    pub run_secs: f64,
    /// Liquidation transactions and the wall time spent in keeper rounds.
    pub liquidation_txs: usize,
    pub keeper_secs: f64,
    /// Transactions executed on the chain in the whole run.
    pub transactions: usize,
    /// Invariant checks performed (each one would have stopped the run).
    pub invariant_checks: usize,
    /// The largest vault surplus over claims seen, native units (rounding dust).
    pub max_vault_surplus: u64,
    /// Accounts the keepers looked at and left, by reason (e.g. no keeper could carry them).
    pub skipped: BTreeMap<String, usize>,
    /// What the scenario's attacker borrowed in all, dollars at the prices of the time.
    pub attacker_borrowed_usd: f64,
    /// The attacker's borrows the program cut short, by error (the binding limit).
    pub attacker_limited_by: BTreeMap<String, usize>,
    /// Per bank, after setup: calibration and the interest curve's kink.
    pub banks: Vec<BankSetup>,
    /// The liquidation-capacity table after setup and at the end (run with feedback only; the
    /// state after setup is the same in both runs).
    pub capacity_start: Vec<CapacityRow>,
    pub capacity_end: Vec<CapacityRow>,
}

/// Progress callback: (what, done, total).
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

struct Engine<'a> {
    scenario: &'a Scenario,
    sandbox: Sandbox,
    banks: Vec<BankRef>,
    markets: Vec<AssetMarket>,
    lender: User,
    users: Vec<User>,
    keepers: Vec<(Keeper, User)>,
    /// The keepers' own collateral: bank and native amount each (what they do not sell).
    keeper_base: (usize, u64),
    observer: Keeper,
    rng: Rng,
    step: usize,
    borrows_refused: usize,
    transactions: usize,
    checks: usize,
    max_surplus: u64,
    skipped: BTreeMap<String, usize>,
    bad_debt_usd: f64,
    insurance_paid_usd: f64,
    /// Pyth's EMA per bank, when the scenario models a stable price.
    emas: Vec<PythEma>,
    attacker: Option<User>,
    attacker_borrowed_usd: f64,
    attacker_limited_by: BTreeMap<String, usize>,
    perps: PerpBook,
    lenders: LenderLedger,
}

fn failed(what: &str, f: &Failed) -> anyhow::Error {
    anyhow!("{what}: {}", f.error_name().map(str::to_owned).unwrap_or(format!("{:?}", f.error)))
}

/// Runs `scenario` once.
pub fn run(
    scenario: &Scenario,
    program: &Path,
    feedback: bool,
    progress: Progress,
) -> Result<RunResult> {
    let started = Instant::now();
    let mut engine = Engine::new(scenario, program, feedback)?;
    let whales = engine.populate(progress)?;
    let banks = engine.calibrate()?;
    let setup_secs = started.elapsed().as_secs_f64();
    let measure_capacity = feedback && !scenario.capacity.shocks_pct.is_empty();
    let capacity_start = if measure_capacity { engine.capacity()? } else { Vec::new() };

    let run_started = Instant::now();
    let mut steps = Vec::with_capacity(scenario.steps);
    let (mut liquidation_txs, mut keeper_secs) = (0, 0.0);
    for step in 1..=scenario.steps {
        let (metrics, liquidations, secs) = engine.step(step)?;
        liquidation_txs += liquidations;
        keeper_secs += secs;
        steps.push(metrics);
        progress("steps", step, scenario.steps);
    }
    let capacity_end =
        if measure_capacity && scenario.capacity.at_end { engine.capacity()? } else { Vec::new() };
    Ok(RunResult {
        feedback,
        accounts: engine.users.len(),
        whales,
        borrows_refused: engine.borrows_refused,
        perp_orders_refused: engine.perps.orders_refused,
        steps,
        setup_secs,
        run_secs: run_started.elapsed().as_secs_f64(),
        liquidation_txs,
        keeper_secs,
        transactions: engine.transactions,
        invariant_checks: engine.checks,
        max_vault_surplus: engine.max_surplus,
        skipped: engine.skipped,
        attacker_borrowed_usd: engine.attacker_borrowed_usd,
        attacker_limited_by: engine.attacker_limited_by,
        banks,
        capacity_start,
        capacity_end,
    })
}

impl<'a> Engine<'a> {
    fn new(scenario: &'a Scenario, program: &Path, feedback: bool) -> Result<Self> {
        let mut chain = EmbeddedChain::with_program(program)?;
        chain.set_unix_timestamp(START_TIME);
        let mut sandbox = Sandbox::new(chain).map_err(|e| anyhow!("{e}"))?;
        let mut banks = Vec::new();
        let mut markets = Vec::new();
        for (index, spec) in scenario.banks.iter().enumerate() {
            let kind = match spec.oracle {
                OracleFormat::Pull => OracleKind::PythPull,
                OracleFormat::Legacy => OracleKind::PythLegacy,
            };
            let config = bank_config(scenario, index);
            let quote = quote(spec.price, spec.conf_bps, sandbox.now());
            let bank = sandbox
                .add_bank(spec.decimals, kind, config, quote)
                .map_err(|f| failed("add_bank", &f))?;
            banks.push(bank);
            let path_seed = scenario.seed ^ (0x5eed_0000 + index as u64);
            let mut path = exogenous_path(spec.price, &spec.path, scenario.steps, path_seed);
            if let Some(noise) = &spec.noise {
                noise::apply(&mut path, noise, noise::noise_seed(scenario.seed, index));
            }
            markets.push(AssetMarket::new(path, spec.market, feedback));
        }
        let perps = PerpBook::new(&mut sandbox, scenario, &banks)?;
        let mut transactions = 1 + banks.len();
        // Insurance funds and lenders.
        for (index, spec) in scenario.banks.iter().enumerate() {
            if spec.insurance_usd > 0.0 {
                let amount = native(spec.insurance_usd / spec.price, spec.decimals);
                sandbox
                    .fund_insurance(&banks[index], amount)
                    .map_err(|f| failed("insurance", &f))?;
                transactions += 1;
            }
        }
        let liquidity: Vec<u64> =
            scenario.banks.iter().map(|b| native(b.liquidity_usd / b.price, b.decimals)).collect();
        let lender = sandbox.user(&liquidity).map_err(|f| failed("lender", &f))?;
        for (bank, amount) in banks.iter().zip(&liquidity) {
            if *amount > 0 {
                sandbox.deposit(&lender, bank, *amount).map_err(|f| failed("lend", &f))?;
                transactions += 1;
            }
        }
        // Keepers: collateral in one bank, a token account for every bank (they sell what they
        // seize and repay what they take over), and a shard each.
        let base = match &scenario.keepers.collateral {
            Some(symbol) => scenario.bank_index(symbol)?,
            None => 0,
        };
        let base_spec = &scenario.banks[base];
        let base_amount =
            native(scenario.keepers.collateral_usd / base_spec.price, base_spec.decimals);
        let mut keepers = Vec::new();
        let count = scenario.keepers.count as u64;
        for i in 0..count {
            let mut funds = vec![0u64; banks.len()];
            funds[base] = base_amount;
            let mut user = sandbox.user(&funds).map_err(|f| failed("keeper", &f))?;
            sandbox.fund(&mut user, 0);
            sandbox.deposit(&user, &banks[base], base_amount).map_err(|f| failed("keeper", &f))?;
            transactions += 3;
            let mut config = KeeperConfig::new(sandbox.group, user.account);
            config.shard = Shard { index: i, count };
            let signer = Keypair::try_from(user.keypair.to_bytes().as_slice())?;
            keepers.push((Keeper::new(config, signer), user));
        }
        let observer = Keeper::new(
            KeeperConfig::new(sandbox.group, keepers[0].1.account),
            Keypair::try_from(keepers[0].1.keypair.to_bytes().as_slice())?,
        );
        Ok(Self {
            scenario,
            sandbox,
            banks,
            markets,
            lender,
            users: Vec::new(),
            keepers,
            keeper_base: (base, base_amount),
            observer,
            rng: Rng::new(scenario.seed),
            step: 0,
            borrows_refused: 0,
            transactions,
            checks: 0,
            max_surplus: 0,
            skipped: BTreeMap::new(),
            bad_debt_usd: 0.0,
            insurance_paid_usd: 0.0,
            emas: scenario
                .banks
                .iter()
                .map(|b| PythEma::steady(b.price, b.price * b.conf_bps as f64 / 10_000.0))
                .collect(),
            attacker: None,
            attacker_borrowed_usd: 0.0,
            attacker_limited_by: BTreeMap::new(),
            perps,
            lenders: LenderLedger::default(),
        })
    }

    fn price(&self, bank: usize) -> f64 {
        self.markets[bank].price(self.step)
    }

    /// The population and the whales; returns the number of whales.
    fn populate(&mut self, progress: Progress) -> Result<usize> {
        let population = &self.scenario.population;
        let symbols = |weights: &BTreeMap<String, f64>| -> Result<Vec<(usize, f64)>> {
            weights.iter().map(|(symbol, w)| Ok((self.scenario.bank_index(symbol)?, *w))).collect()
        };
        let collateral = symbols(&population.collateral)?;
        let borrow = symbols(&population.borrow)?;
        let whales_total: usize = population.whales.iter().map(|w| w.count).sum();
        let total = population.accounts + whales_total;
        let mut deposited_usd = vec![0.0; self.banks.len()];
        for n in 0..population.accounts {
            let weights: Vec<f64> = collateral.iter().map(|c| c.1).collect();
            let first = collateral[self.rng.weighted(&weights)].0;
            let size = self.rng.log_uniform(population.size_usd.min, population.size_usd.max);
            let mut legs = vec![(first, size)];
            if self.rng.unit() * 100.0 < population.second_collateral_pct {
                let others: Vec<(usize, f64)> =
                    collateral.iter().copied().filter(|c| c.0 != first).collect();
                if !others.is_empty() {
                    let weights: Vec<f64> = others.iter().map(|c| c.1).collect();
                    let second = others[self.rng.weighted(&weights)].0;
                    legs.push((second, size * self.rng.uniform(0.2, 1.0)));
                }
            }
            let candidates: Vec<(usize, f64)> =
                borrow.iter().copied().filter(|b| legs.iter().all(|l| l.0 != b.0)).collect();
            let leverage = self.rng.uniform(population.leverage.min, population.leverage.max);
            let loan = (!candidates.is_empty()).then(|| {
                let weights: Vec<f64> = candidates.iter().map(|c| c.1).collect();
                (candidates[self.rng.weighted(&weights)].0, leverage)
            });
            for (bank, usd) in &legs {
                deposited_usd[*bank] += usd;
            }
            self.open_account(&legs, loan)?;
            progress("accounts", n + 1, total);
        }
        let mut made = population.accounts;
        for whale in &population.whales {
            let bank = self.scenario.bank_index(&whale.collateral)?;
            let loan_bank = self.scenario.bank_index(&whale.borrow)?;
            let each = deposited_usd[bank] * whale.share / whale.count.max(1) as f64;
            for _ in 0..whale.count {
                self.open_account(&[(bank, each)], Some((loan_bank, whale.leverage)))?;
                made += 1;
                progress("accounts", made, total);
            }
        }
        // The perp book draws from its own generator: the lending population stays as it was.
        let mut perp_rng = Rng::new(self.scenario.seed ^ 0x9e4f_0000);
        self.perps.populate(&mut self.sandbox, &self.banks, &mut perp_rng)?;
        self.transactions += std::mem::take(&mut self.perps.transactions);
        Ok(whales_total)
    }

    /// An account with collateral `legs` (bank, dollars) borrowing `leverage` of its init
    /// capacity in `loan`'s bank. A borrow the program refuses is retried smaller, then counted.
    fn open_account(&mut self, legs: &[(usize, f64)], loan: Option<(usize, f64)>) -> Result<()> {
        let mut funds = vec![0u64; self.banks.len()];
        let mut capacity_usd = 0.0;
        for (bank, usd) in legs {
            let spec = &self.scenario.banks[*bank];
            funds[*bank] += native(usd / self.price(*bank), spec.decimals);
            capacity_usd += usd * spec.weights.init_asset as f64 / 10_000.0;
        }
        let user = self.sandbox.user(&funds).map_err(|f| failed("account", &f))?;
        self.transactions += 2;
        for (bank, amount) in funds.iter().enumerate() {
            if *amount > 0 {
                let bank_ref = self.banks[bank];
                self.sandbox
                    .deposit(&user, &bank_ref, *amount)
                    .map_err(|f| failed("deposit", &f))?;
                self.transactions += 1;
            }
        }
        if let Some((bank, leverage)) = loan {
            let spec = &self.scenario.banks[bank];
            let usd = capacity_usd * leverage
                / (spec.weights.init_liab as f64 / 10_000.0)
                / (1.0 + spec.conf_bps as f64 / 10_000.0);
            let mut amount = native(usd / self.price(bank), spec.decimals);
            let bank_ref = self.banks[bank];
            let mut borrowed = false;
            for _ in 0..6 {
                if amount == 0 {
                    break;
                }
                self.transactions += 1;
                match self.sandbox.borrow(&user, &bank_ref, amount) {
                    Ok(_) => {
                        borrowed = true;
                        break;
                    }
                    // The size-aware weight or rounding can leave less room than estimated.
                    Err(f) if f.custom_code() == Some(MarginError::InitHealthNegative.into()) => {
                        amount = amount * 9 / 10;
                    }
                    Err(f)
                        if f.custom_code() == Some(MarginError::InsufficientLiquidity.into()) =>
                    {
                        break
                    }
                    Err(f) => return Err(failed("borrow", &f)),
                }
            }
            if !borrowed {
                self.borrows_refused += 1;
            }
        }
        self.users.push(user);
        Ok(())
    }

    /// One step: time passes, prices move, events happen, keepers act, liquidators sell.
    fn step(&mut self, step: usize) -> Result<(StepMetrics, usize, f64)> {
        self.step = step;
        self.sandbox.chain.warp_seconds(self.scenario.step_seconds);
        for market in &mut self.markets {
            market.recover();
        }
        self.publish_prices();
        let prices: Vec<f64> = (0..self.banks.len()).map(|b| self.price(b)).collect();
        self.perps.publish(&mut self.sandbox, self.scenario, &prices);
        self.perps.act(&mut self.sandbox, step)?;
        self.transactions += std::mem::take(&mut self.perps.transactions);
        self.attack()?;
        if let Some(collapse) = self.scenario.open_interest_collapse {
            if collapse.at_step == step {
                self.collapse(collapse.borrower_fraction, collapse.lender_fraction)?;
            }
        }
        self.lender_run()?;

        // The keepers, each on its shard; every liquidation and write-off is checked.
        let stop = AtomicBool::new(false);
        let mut liquidations: Vec<Liquidation> = Vec::new();
        let mut resolutions: Vec<BankruptcyResolved> = Vec::new();
        let mut rounds: Vec<RoundReport> = Vec::new();
        let keeper_started = Instant::now();
        let dust = self.sandbox.group_state().bankruptcy_dust_quote;
        for (keeper, _) in &self.keepers {
            let mut backend = EmbeddedBackend::new(&mut self.sandbox.chain);
            let discovered = keeper.discover(&mut backend)?;
            let mut flagged: HashSet<Pubkey> = discovered
                .accounts
                .iter()
                .filter(|(_, a)| a.being_liquidated != 0)
                .map(|(k, _)| *k)
                .collect();
            let evaluation =
                cross_margin_keeper::evaluate(&discovered.market, &discovered.accounts);
            let report = keeper.act(&mut backend, &discovered, &evaluation, &stop)?;
            for skipped in &report.skipped {
                *self.skipped.entry(skip_reason(skipped)).or_default() += 1;
            }
            for done in &report.liquidations {
                let e = &done.event;
                // The program also accepts a step that clears the debt in that bank without
                // raising maint health (rounding on a tiny debt): read whether it is gone now.
                let debt_gone = match self.sandbox.chain.load::<MarginAccount>(&e.liquidatee) {
                    Some(account) => {
                        let bank = self.sandbox.bank(&self.sandbox.bank_ref(&e.liab_bank));
                        positions::borrow_native(&account, &bank).is_ok_and(|owed| owed == 0)
                    }
                    None => true,
                };
                let flagged_before = flagged.contains(&e.liquidatee);
                invariants::check_liquidation(step, e, flagged_before, debt_gone)?;
                // A step that leaves it short of the end target keeps it liquidatable.
                if e.still_being_liquidated {
                    flagged.insert(e.liquidatee);
                }
                self.checks += 2;
                liquidations.push(e.clone());
            }
            for done in &report.resolutions {
                invariants::check_write_off(step, &done.event, dust)?;
                self.checks += 1;
                resolutions.push(done.event.clone());
            }
            self.transactions += report.liquidations.len()
                + report.resolutions.len()
                + report.perp_liquidations.len()
                + report.settlements.len()
                + report.perp_resolutions.len();
            rounds.push(report);
        }
        let perp_counts = perp_liquidation_metrics(&rounds, &self.perps.addresses());
        let keeper_secs = keeper_started.elapsed().as_secs_f64();

        let bank_index = |banks: &[BankRef], address: Pubkey| {
            banks.iter().position(|b| b.address == address).expect("a bank of the group")
        };
        let mut liquidated_debt_usd = 0.0;
        for e in &liquidations {
            let bank = bank_index(&self.banks, e.liab_bank);
            liquidated_debt_usd += self.usd(bank, e.liab_amount);
        }
        for e in &resolutions {
            let bank = bank_index(&self.banks, e.liab_bank);
            self.bad_debt_usd += self.usd(bank, e.socialized);
            self.insurance_paid_usd += self.usd(bank, e.from_insurance);
        }
        let sold_usd = self.sell_seized()?;
        self.check_vaults()?;
        let mut metrics =
            self.measure(liquidations.len(), liquidated_debt_usd, resolutions.len(), sold_usd)?;
        let (perps, checks) = self.perps.measure(&self.sandbox, step, &perp_counts)?;
        metrics.perps = perps;
        self.checks += checks;
        Ok((metrics, liquidations.len(), keeper_secs))
    }

    fn usd(&self, bank: usize, amount: u64) -> f64 {
        amount as f64 / 10f64.powi(self.scenario.banks[bank].decimals as i32) * self.price(bank)
    }

    fn publish_prices(&mut self) {
        let now = self.sandbox.now();
        for (index, bank) in self.banks.clone().iter().enumerate() {
            let conf_bps = self.scenario.banks[index].conf_bps;
            let quote = quote(self.price(index), conf_bps, now);
            match self.scenario.stable_price {
                Some(stable) => {
                    let price = self.price(index);
                    let conf = price * conf_bps as f64 / 10_000.0;
                    let dt = self.scenario.step_seconds as f64;
                    self.emas[index].update(price, conf, dt, stable.half_life_secs);
                    let ema = ema_of(&self.emas[index]);
                    self.sandbox.set_price_with_ema(bank, quote, ema);
                }
                None => self.sandbox.set_price(bank, quote),
            }
        }
    }

    /// The stable price each oracle account carries now, dollars.
    fn stable_price(&self, bank: usize) -> f64 {
        match self.scenario.stable_price {
            Some(_) => self.emas[bank].price(),
            None => self.price(bank),
        }
    }

    /// Each keeper withdraws the collateral it seized, sells it into the market model, and repays
    /// the debt it took over with the proceeds. Returns the dollars sold.
    fn sell_seized(&mut self) -> Result<f64> {
        let mut sold = 0.0;
        for k in 0..self.keepers.len() {
            let user = &self.keepers[k].1;
            let account = self.sandbox.margin_account(user);
            let mut proceeds = 0.0;
            for position in account.active_positions() {
                let bank = position.bank_index as usize;
                if !matches!(position.shares(), Some(PositionShares::Deposit(_))) {
                    continue;
                }
                let state = self.accrued(bank);
                let held = program(positions::deposit_native(&account, &state))?;
                // Everything seized; in the keepers' own collateral bank, what exceeds it.
                let (base_bank, base_amount) = self.keeper_base;
                let amount =
                    if bank == base_bank { held.saturating_sub(base_amount) } else { held };
                // At high utilization the vault may not hold it all: the rest waits.
                let available = self.accrued(bank).available_liquidity().unwrap_or(0);
                let amount = amount.min(available);
                if amount == 0 {
                    continue;
                }
                let bank_ref = self.banks[bank];
                let user = &self.keepers[k].1;
                self.sandbox
                    .withdraw(user, &bank_ref, amount)
                    .map_err(|f| failed("keeper withdraw", &f))?;
                self.transactions += 1;
                let tokens = amount as f64 / 10f64.powi(self.scenario.banks[bank].decimals as i32);
                let received = self.markets[bank].sell(self.step, tokens);
                proceeds += received;
                sold += received;
            }
            // Repay what it owes with the proceeds (bought at the oracle price).
            let account = self.sandbox.margin_account(&self.keepers[k].1);
            for position in account.active_positions() {
                let bank = position.bank_index as usize;
                if !matches!(position.shares(), Some(PositionShares::Borrow(_))) || proceeds <= 0.0
                {
                    continue;
                }
                let state = self.accrued(bank);
                let debt = program(positions::borrow_native(&account, &state))?;
                let affordable =
                    native(proceeds / self.price(bank), self.scenario.banks[bank].decimals);
                let repay = debt.min(affordable);
                if repay == 0 {
                    continue;
                }
                let user = &self.keepers[k].1;
                let token = user.tokens[bank];
                self.sandbox.chain.mint_to(&token, repay);
                let bank_ref = self.banks[bank];
                match self.sandbox.repay(user, &bank_ref, repay) {
                    Ok(_) => proceeds -= self.usd(bank, repay),
                    // A remainder worth less than a share stays as debt.
                    Err(f) if f.custom_code() == Some(MarginError::AmountTooSmall.into()) => {}
                    Err(f) => return Err(failed("keeper repay", &f)),
                }
                self.transactions += 1;
            }
            // Restore its own collateral with what is left (taking over debt in that bank used
            // it up first).
            let (base_bank, base_amount) = self.keeper_base;
            let account = self.sandbox.margin_account(&self.keepers[k].1);
            let held = program(positions::deposit_native(&account, &self.accrued(base_bank)))?;
            let affordable =
                native(proceeds / self.price(base_bank), self.scenario.banks[base_bank].decimals);
            let top_up = base_amount.saturating_sub(held).min(affordable);
            if top_up > 0 {
                let user = &self.keepers[k].1;
                self.sandbox.chain.mint_to(&user.tokens[base_bank], top_up);
                let bank_ref = self.banks[base_bank];
                match self.sandbox.deposit(user, &bank_ref, top_up) {
                    Ok(_) => {}
                    // Less than a share: not worth restoring.
                    Err(f) if f.custom_code() == Some(MarginError::AmountTooSmall.into()) => {}
                    Err(f) => return Err(failed("keeper top-up", &f)),
                }
                self.transactions += 1;
            }
        }
        Ok(sold)
    }

    /// The bank with interest accrued to now, as the program will see it.
    fn accrued(&self, bank: usize) -> Bank {
        let mut state = self.sandbox.bank(&self.banks[bank]);
        let _ = state.accrue_interest(self.sandbox.now());
        state
    }

    /// Every vault holds at least what it owes (deposits − borrows + insurance); the surplus is
    /// rounding dust, which only ever accumulates in the vault.
    fn check_vaults(&mut self) -> Result<()> {
        for bank in &self.banks {
            let (vault, claims) = self.sandbox.vault_and_claims(bank);
            let surplus =
                invariants::check_vault(self.step, bank.index, vault, claims, self.transactions)?;
            self.max_surplus = self.max_surplus.max(surplus);
            self.checks += 1;
        }
        Ok(())
    }

    fn measure(
        &mut self,
        liquidations: usize,
        liquidated_debt_usd: f64,
        bankruptcies: usize,
        sold_usd: f64,
    ) -> Result<StepMetrics> {
        let mut backend = EmbeddedBackend::new(&mut self.sandbox.chain);
        let Discovered { market, accounts, .. } = self.observer.discover(&mut backend)?;
        let risks = market.risks();
        let buffer = market.group.liquidation_end_buffer_bps;
        let dust = market.group.bankruptcy_dust_quote;
        let excluded: HashSet<Pubkey> = self
            .keepers
            .iter()
            .map(|(_, u)| u.account)
            .chain(std::iter::once(self.lender.account))
            .collect();
        let mut ratios = Vec::new();
        let mut liquidatable_left = 0;
        for (address, account) in &accounts {
            if excluded.contains(address) {
                continue;
            }
            let assessment = assess(&risks, account, buffer, dust);
            if assessment.status == Status::Liquidatable {
                liquidatable_left += 1;
            }
            let totals = assessment.totals;
            if totals.maint_weighted_liabs > 0 {
                ratios.push(totals.health.maint as f64 / totals.maint_weighted_liabs as f64);
            }
        }
        ratios.sort_by(|a, b| a.total_cmp(b));
        let percentile = |p: f64| -> f64 {
            if ratios.is_empty() {
                return 0.0;
            }
            ratios[((ratios.len() - 1) as f64 * p).round() as usize]
        };
        let mut utilization_bps = Vec::new();
        let mut borrow_apr_bps = Vec::new();
        let (mut deposits_usd, mut borrows_usd, mut insurance_usd) = (0.0, 0.0, 0.0);
        for index in 0..self.banks.len() {
            let state = self.accrued(index);
            let utilization = state.utilization_bps().unwrap_or(0);
            utilization_bps.push(utilization);
            borrow_apr_bps.push(state.borrow_rate_bps(utilization));
            deposits_usd += self.usd(index, state.total_deposits_native().unwrap_or(0));
            borrows_usd += self.usd(index, state.total_borrows_native().unwrap_or(0));
            insurance_usd += self.usd(index, state.insurance_native);
        }
        Ok(StepMetrics {
            step: self.step,
            prices: (0..self.banks.len()).map(|b| self.price(b)).collect(),
            exogenous: self.markets.iter().map(|m| m.exogenous[self.step]).collect(),
            stable_prices: (0..self.banks.len()).map(|b| self.stable_price(b)).collect(),
            liquidations,
            liquidated_debt_usd,
            bankruptcies,
            bad_debt_usd: self.bad_debt_usd,
            insurance_paid_usd: self.insurance_paid_usd,
            insurance_usd,
            sold_usd,
            health_p5: percentile(0.05),
            health_p25: percentile(0.25),
            health_p50: percentile(0.5),
            accounts_with_debt: ratios.len(),
            liquidatable_left,
            utilization_bps,
            borrow_apr_bps,
            deposits_usd,
            borrows_usd,
            perps: Vec::new(),
            liquidity: self.bank_liquidity()?,
        })
    }
}

/// A skipped account's reason, without the account (for counting).
fn skip_reason(skipped: &Skipped) -> String {
    match skipped {
        Skipped::LostRace { error, .. } => format!("lost race: {error}"),
        Skipped::NoPlan { reason, .. } => format!("no plan: {reason}"),
        Skipped::DryRun { .. } => "dry run".into(),
        Skipped::Refused { error, .. } => format!("refused: {error}"),
        Skipped::BelowMinProfit { predicted_quote, .. } => {
            format!("below the minimum profit: {predicted_quote} quote units")
        }
    }
}

/// A program error as an `anyhow` one.
fn program<T>(result: core::result::Result<T, MarginError>) -> Result<T> {
    result.map_err(|e| anyhow!("program maths: {e:?}"))
}

/// The program's bank configuration for a scenario bank.
pub fn bank_config(scenario: &Scenario, index: usize) -> BankConfig {
    let spec = &scenario.banks[index];
    let w = spec.weights;
    BankConfig {
        oracle_kind: 0,
        oracle_feed_id: [0; 32],
        // Oracles are republished every step.
        oracle_max_age_secs: scenario.step_seconds.max(60) as u32,
        oracle_max_conf_bps: (spec.conf_bps * 2).max(200),
        oracle_conf_multiplier_bps: 10_000,
        init_asset_weight_bps: w.init_asset,
        maint_asset_weight_bps: w.maint_asset,
        maint_liab_weight_bps: w.maint_liab,
        init_liab_weight_bps: w.init_liab,
        liquidation_fee_bps: spec.liquidation_fee_bps,
        insurance_fee_bps: spec.insurance_fee_bps,
        optimal_utilization_bps: spec.interest.optimal_utilization_bps,
        min_rate_bps: spec.interest.min_rate_bps,
        optimal_rate_bps: spec.interest.optimal_rate_bps,
        max_rate_bps: spec.interest.max_rate_bps,
        padding: [0; 3],
        deposit_limit_native: u64::MAX,
        borrow_limit_native: u64::MAX,
        deposit_weight_scale_start_quote: (spec.deposit_weight_scale_start_usd * 1e6) as u64,
        net_borrow_limit_per_window_quote: (spec.net_borrow_limit_usd * 1e6) as u64,
        net_borrow_limit_window_secs: spec.net_borrow_limit_window_secs,
    }
}

/// A Pyth quote for `price` dollars with a confidence of `conf_bps` of it (exponent −8).
pub fn quote(price: f64, conf_bps: u32, publish_time: i64) -> Quote {
    let mantissa = (price * 1e8).round().max(1.0) as i64;
    let conf = (mantissa as f64 * conf_bps as f64 / 10_000.0).round() as u64;
    Quote { price: mantissa, conf, exponent: -8, publish_time }
}

/// The EMA of `ema` as a Pyth account carries it (exponent −8, like [`quote`]).
pub fn ema_of(ema: &PythEma) -> Ema {
    Ema {
        price: (ema.price() * 1e8).round().max(1.0) as i64,
        conf: (ema.conf() * 1e8).round().max(0.0) as u64,
    }
}

/// `tokens` whole tokens in native units (rounded down).
pub fn native(tokens: f64, decimals: u8) -> u64 {
    (tokens * 10f64.powi(decimals as i32)).floor().max(0.0) as u64
}
