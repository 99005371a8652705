//! A seeded market on the embedded chain, for the demo and the keeper's tests: three banks
//! (USDC and SOL on Pyth pull oracles, BTC on a legacy Pyth account), a deep lender, a funded
//! keeper, and a population of borrowers with varied portfolios; optionally a SOL perp market
//! with LPs and traders (the demo's). Deterministic for a seed.

use anyhow::{anyhow, Result};
use cross_margin::error::MarginError;
use cross_margin::perp::PerpSide;
use cross_margin::state::{BankConfig, OracleKind, PerpMarketConfig};
use cross_margin_client::ix::BankRef;
use cross_margin_client::outcome::Failed;
use cross_margin_client::perp_ix::PerpMarketRef;
use cross_margin_client::pyth::Quote;
use cross_margin_client::{EmbeddedChain, Keypair, Signer};
use cross_margin_keeper::{Keeper, KeeperConfig};

use crate::perp::{market_order, perp_config};
use crate::sandbox::{bank_config, quote_dollars, Sandbox, User};

/// Unix time the seeded chain starts at.
pub const START_TIME: i64 = 1_800_000_000;

/// SplitMix64 (plus Box-Muller for normals): a small deterministic generator, enough for
/// portfolios and price paths. Shared with the stress lab.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low).max(1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Log-uniform in [low, high].
    pub fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        (low.ln() + (high.ln() - low.ln()) * self.unit()).exp()
    }

    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// An index drawn with the given relative weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// One asset of the seeded market.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub symbol: &'static str,
    pub decimals: u8,
    pub kind: OracleKind,
    /// Dollars per whole token.
    pub price: i64,
    /// init asset, maint asset, maint liability, init liability (bps).
    pub weights: [u32; 4],
}

pub const USDC: Asset = Asset {
    symbol: "USDC",
    decimals: 6,
    kind: OracleKind::PythPull,
    price: 1,
    weights: [9_500, 9_800, 10_200, 10_500],
};
pub const SOL: Asset = Asset {
    symbol: "SOL",
    decimals: 9,
    kind: OracleKind::PythPull,
    price: 125,
    weights: [8_000, 9_000, 11_000, 12_000],
};
pub const BTC: Asset = Asset {
    symbol: "BTC",
    decimals: 8,
    kind: OracleKind::PythLegacy,
    price: 100_000,
    weights: [8_500, 9_200, 10_800, 11_500],
};

pub struct SeededMarket {
    pub sandbox: Sandbox,
    pub assets: Vec<Asset>,
    pub banks: Vec<BankRef>,
    pub lender: User,
    /// The borrowers, in creation order.
    pub users: Vec<User>,
    /// The perp market, once [`SeededMarket::add_perps`] has opened it.
    pub perps: Option<SeededPerps>,
}

/// The seeded market's perp market: SOL-PERP over SOL's price, settling in USDC.
pub struct SeededPerps {
    pub market: PerpMarketRef,
    pub lps: Vec<User>,
    pub traders: Vec<User>,
    /// What the LPs deposited into the pool, USDC native.
    pub deposited: u64,
    /// Orders the program refused for health even at a fifth of their size.
    pub refused: usize,
}

fn failed(what: &str, f: Failed) -> anyhow::Error {
    anyhow!("{what}: {:?}\n{}", f.error, f.logs.join("\n"))
}

impl SeededMarket {
    /// The three-bank market with `accounts` borrowers.
    pub fn new(chain: EmbeddedChain, accounts: usize, seed: u64) -> Result<Self> {
        Self::new_with_progress(chain, accounts, seed, &mut |_| {})
    }

    /// [`new`](Self::new), calling `progress(n)` after the n-th borrower.
    pub fn new_with_progress(
        chain: EmbeddedChain,
        accounts: usize,
        seed: u64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Self> {
        Self::build(chain, accounts, seed, START_TIME, progress)
    }

    /// The market with the chain's clock at `unix_time` (e.g. now, for a state that a real
    /// validator will serve).
    pub fn new_at(
        chain: EmbeddedChain,
        accounts: usize,
        seed: u64,
        unix_time: i64,
    ) -> Result<Self> {
        Self::build(chain, accounts, seed, unix_time, &mut |_| {})
    }

    fn build(
        chain: EmbeddedChain,
        accounts: usize,
        seed: u64,
        unix_time: i64,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Self> {
        let mut chain = chain;
        chain.set_unix_timestamp(unix_time);
        let mut sandbox = Sandbox::new(chain).map_err(|e| anyhow!("{e}"))?;
        let assets = vec![USDC, SOL, BTC];
        let mut banks = Vec::new();
        for asset in &assets {
            let quote = quote_dollars(asset.price, 0, sandbox.now());
            let bank = sandbox
                .add_bank(asset.decimals, asset.kind, Self::config(asset), quote)
                .map_err(|f| failed("add_bank", f))?;
            banks.push(bank);
        }
        // A lender deep enough for every borrow: $100M of each asset.
        let deep: Vec<u64> =
            assets.iter().map(|a| whole(a, 100_000_000 / a.price as u64)).collect();
        let lender = sandbox.user(&deep).map_err(|f| failed("lender", f))?;
        for (bank, amount) in banks.iter().zip(&deep) {
            sandbox.deposit(&lender, bank, *amount).map_err(|f| failed("lend", f))?;
        }
        let mut market = Self { sandbox, assets, banks, lender, users: Vec::new(), perps: None };
        let mut rng = Rng::new(seed);
        for n in 0..accounts {
            market.add_borrower(&mut rng)?;
            progress(n + 1);
        }
        Ok(market)
    }

    /// A borrower: collateral in one or two assets ($1k-$50k each; SOL for half of them), and
    /// a borrow of another asset using 40-97% of its init capacity.
    fn add_borrower(&mut self, rng: &mut Rng) -> Result<()> {
        let collateral_index = [1, 1, 0, 2][rng.range(0, 4) as usize];
        let second = rng.next_u64().is_multiple_of(3).then(|| (collateral_index + 1) % 3);
        let candidates: Vec<usize> =
            (0..3).filter(|i| *i != collateral_index && Some(*i) != second).collect();
        let borrow_index = candidates[rng.range(0, candidates.len() as u64) as usize];
        let mut funds = vec![0u64; 3];
        let mut capacity_usd = 0.0;
        for index in std::iter::once(collateral_index).chain(second) {
            let asset = self.assets[index];
            let usd = rng.range(1_000, 50_000);
            funds[index] = whole(&asset, 1) * usd / asset.price as u64;
            capacity_usd += usd as f64 * asset.weights[0] as f64 / 10_000.0;
        }
        let user = self.sandbox.user(&funds).map_err(|f| failed("borrower", f))?;
        for (index, amount) in funds.iter().enumerate() {
            if *amount > 0 {
                let bank = self.banks[index];
                self.sandbox.deposit(&user, &bank, *amount).map_err(|f| failed("collateral", f))?;
            }
        }
        // Setup arithmetic only (the program checks the borrow): floats are fine here.
        let borrowed = self.assets[borrow_index];
        let usage = rng.range(40, 98) as f64 / 100.0;
        let borrow_usd = capacity_usd * usage / (borrowed.weights[3] as f64 / 10_000.0);
        let amount =
            (borrow_usd / borrowed.price as f64 * 10f64.powi(borrowed.decimals as i32)) as u64;
        let bank = self.banks[borrow_index];
        self.sandbox.borrow(&user, &bank, amount.max(1)).map_err(|f| failed("borrow", f))?;
        self.users.push(user);
        Ok(())
    }

    /// Opens SOL-PERP (the test kit's `perp_config` over SOL's 9 decimals, lots of 0.01 SOL):
    /// `lps` LPs deposit `pool_usd` in all into its pool, then `traders` traders each deposit
    /// $1k-$30k of USDC and trade 2-8x that notional, 60% of them long. An order refused for
    /// health is retried smaller (then counted in `refused`).
    pub fn add_perps(
        &mut self,
        traders: usize,
        lps: usize,
        pool_usd: u64,
        seed: u64,
    ) -> Result<()> {
        let config = PerpMarketConfig {
            base_decimals: SOL.decimals,
            base_lot_size: whole(&SOL, 1) / 100,
            // 80,000 SOL a side ($10M): room for every trader's order.
            max_long_lots: 8_000_000,
            max_short_lots: 8_000_000,
            ..perp_config()
        };
        let quote = quote_dollars(SOL.price, 0, self.sandbox.now());
        let market = self
            .sandbox
            .add_perp_market(&self.banks[0], OracleKind::PythPull, config, quote)
            .map_err(|f| failed("add_perp_market", f))?;
        let mut perps =
            SeededPerps { market, lps: Vec::new(), traders: Vec::new(), deposited: 0, refused: 0 };
        let each = whole(&USDC, pool_usd / lps.max(1) as u64);
        for _ in 0..lps {
            let lp = self.usdc_user(each)?;
            self.sandbox.pool_deposit(&lp, &market, each).map_err(|f| failed("pool_deposit", f))?;
            perps.deposited += each;
            perps.lps.push(lp);
        }
        let mut rng = Rng::new(seed ^ 0x9e4f);
        let lot_usd = SOL.price as f64 / 100.0;
        for _ in 0..traders {
            let collateral = rng.range(1_000, 30_000);
            let leverage = rng.uniform(2.0, 8.0);
            let side = if rng.unit() < 0.6 { PerpSide::Long } else { PerpSide::Short };
            let user = self.usdc_user(whole(&USDC, collateral))?;
            let mut lots = (collateral as f64 * leverage / lot_usd) as u64;
            loop {
                match self.sandbox.place_perp_order(&user, &market, market_order(side, lots)) {
                    Ok(_) => break,
                    Err(f) if f.custom_code() == Some(MarginError::InitHealthNegative.into()) => {
                        lots = lots * 4 / 5;
                        if lots < (collateral as f64 / lot_usd) as u64 {
                            perps.refused += 1;
                            break;
                        }
                    }
                    Err(f) => return Err(failed("perp order", f)),
                }
            }
            perps.traders.push(user);
        }
        self.perps = Some(perps);
        Ok(())
    }

    /// A user holding `amount` native USDC in the USDC bank.
    fn usdc_user(&mut self, amount: u64) -> Result<User> {
        let user = self.sandbox.user(&[amount, 0, 0]).map_err(|f| failed("perp account", f))?;
        let usdc = self.banks[0];
        self.sandbox.deposit(&user, &usdc, amount).map_err(|f| failed("perp deposit", f))?;
        Ok(user)
    }

    /// The bank configuration of one of the market's assets.
    pub fn config(asset: &Asset) -> BankConfig {
        bank_config(asset.weights)
    }

    /// Sets how old an oracle price may be, on every bank (`configure_bank`).
    pub fn set_max_oracle_age(&mut self, seconds: u32) -> Result<()> {
        for (asset, bank) in self.assets.clone().iter().zip(self.banks.clone()) {
            let state = self.sandbox.bank(&bank);
            let config = BankConfig {
                oracle_kind: state.config.oracle_kind,
                oracle_feed_id: state.config.oracle_feed_id,
                oracle_max_age_secs: seconds,
                ..Self::config(asset)
            };
            let ix = cross_margin_client::ix::configure_bank(
                self.sandbox.group,
                self.sandbox.admin.pubkey(),
                bank.address,
                bank.oracle,
                config,
            );
            self.sandbox.send_as_admin(&[ix]).map_err(|f| failed("configure_bank", f))?;
        }
        Ok(())
    }

    /// Moves an asset's oracle price to `dollars_e4` (dollars × 10^4), published now.
    pub fn set_price(&mut self, asset: usize, dollars_e4: i64) {
        let quote =
            Quote { price: dollars_e4, conf: 0, exponent: -4, publish_time: self.sandbox.now() };
        let bank = self.banks[asset];
        self.sandbox.set_price(&bank, quote);
        // SOL-PERP's oracle carries SOL's price.
        if let (1, Some(perps)) = (asset, &self.perps) {
            let market = perps.market;
            self.sandbox.set_perp_price(&market, quote);
        }
    }

    /// A keeper whose margin account holds `collateral_usd` of USDC.
    pub fn keeper(&mut self, collateral_usd: u64) -> Result<(Keeper, User)> {
        let funds = [whole(&USDC, collateral_usd), 0, 0];
        let user = self.sandbox.user(&funds).map_err(|f| failed("keeper", f))?;
        if collateral_usd > 0 {
            let usdc = self.banks[0];
            self.sandbox
                .deposit(&user, &usdc, funds[0])
                .map_err(|f| failed("keeper collateral", f))?;
        }
        let signer = Keypair::try_from(user.keypair.to_bytes().as_slice()).expect("a keypair");
        let config = KeeperConfig::new(self.sandbox.group, user.account);
        Ok((Keeper::new(config, signer), user))
    }
}

/// `units` whole tokens of `asset` in native units.
pub fn whole(asset: &Asset, units: u64) -> u64 {
    units * 10u64.pow(asset.decimals as u32)
}
