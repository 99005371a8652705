//! The banks' oracles as the campaign writes them: new prices, faults, refreshes.

use cross_margin::state::OracleKind;
use cross_margin_client::pyth::Quote;

use super::{Edge, OracleFault, PerpFault, State, World, BANKS};

/// The perp price's bounds, in units of $0.0001: $20 and $500.
const PERP_PRICE_BOUNDS: (i128, i128) = (200_000, 5_000_000);

/// A bank's oracle as the campaign writes it: a value in units of $0.0001, written with `shift`
/// more decimals (the same price in another exponent), and possibly a fault.
#[derive(Debug, Clone, Copy)]
pub(super) struct Oracle {
    value: i64,
    conf: u64,
    shift: u8,
    publish: i64,
    fault: Option<OracleFault>,
}

impl Oracle {
    /// The market's starting price (always written with exponent −4).
    pub(super) fn from_quote(q: Quote) -> Self {
        assert_eq!(q.exponent, -4, "the markets' prices are written with exponent -4");
        Oracle { value: q.price, conf: q.conf, shift: 0, publish: q.publish_time, fault: None }
    }
}

impl World {
    /// The `Price` action: bank `b`'s price moves by `change_bps`, published `now`.
    pub(super) fn set_price(
        &mut self,
        b: usize,
        change_bps: i32,
        conf_bps: u32,
        expo_shift: u8,
        now: i64,
    ) {
        let o = &mut self.oracles[b];
        let value = o.value as i128 * (10_000 + change_bps as i128) / 10_000;
        o.value = value.clamp(1, 1_000_000_000_000) as i64;
        o.conf = (o.value as u128 * conf_bps as u128 / 10_000) as u64;
        o.shift = expo_shift;
        o.publish = now;
        o.fault = None;
        self.write_oracle(b);
    }

    /// The `OracleFault` action: bank `b`'s oracle gets `fault` (a stale one is 61 s old).
    pub(super) fn set_fault(&mut self, b: usize, fault: OracleFault, now: i64) {
        let o = &mut self.oracles[b];
        o.fault = Some(fault);
        if fault == OracleFault::Stale {
            o.publish = now - 61;
        }
        self.write_oracle(b);
    }

    /// The `OracleEdge` action: bank `b`'s oracle, valid, its price unchanged, at the edge of
    /// the bank's max age or max confidence (`validate` refuses an age above the max, and a
    /// confidence with `conf × 10,000 > price × max_conf_bps`).
    pub(super) fn set_edge(&mut self, b: usize, edge: Edge, s: &State) {
        let config = s.banks[b].config;
        let o = &mut self.oracles[b];
        o.fault = None;
        match edge {
            Edge::Age(offset) => {
                o.publish = s.now - (config.oracle_max_age_secs as i64 + offset as i64);
            }
            Edge::Conf(offset) => {
                let limit = o.value as u128 * config.oracle_max_conf_bps as u128 / 10_000;
                o.conf = (limit as i64 + offset as i64).max(0) as u64;
            }
        }
        self.write_oracle(b);
    }

    fn write_oracle(&mut self, b: usize) {
        let kind = if b == 2 { OracleKind::PythLegacy } else { OracleKind::PythPull };
        let (oracle, index) = (self.banks[b].oracle, self.banks[b].index);
        let o = self.oracles[b];
        let scale = 10i64.pow(o.shift as u32);
        let price = if o.fault == Some(OracleFault::NonPositive) { 0 } else { o.value * scale };
        let conf = if o.fault == Some(OracleFault::WideConf) {
            (o.value * scale / 30) as u64
        } else {
            o.conf * scale as u64
        };
        let quote = Quote { price, conf, exponent: -4 - o.shift as i32, publish_time: o.publish };
        self.m.write_oracle(kind, oracle, index, quote, o.fault != Some(OracleFault::Invalid));
    }

    /// Every oracle (the perp market's too) publishes again now, valid, at its last price.
    pub(super) fn refresh_oracles(&mut self) {
        let now = self.m.now();
        for b in 0..BANKS {
            let o = &mut self.oracles[b];
            o.publish = now;
            o.fault = None;
            self.write_oracle(b);
        }
        self.perp_oracle.publish = now;
        self.perp_oracle.fault = None;
        self.write_perp_oracle();
    }

    /// Every oracle publishes again now, valid and confident (at most 1% of confidence), at its
    /// last price: the exit phase's prices. An account left with a perp slot (an unpaid gain,
    /// a locked position) needs its prices for every withdrawal.
    pub(super) fn calm_oracles(&mut self) {
        for o in self.oracles.iter_mut().chain([&mut self.perp_oracle]) {
            o.conf = o.conf.min(o.value as u64 / 100);
        }
        self.refresh_oracles();
    }

    /// The `PerpPrice` action: the perp price moves by `change_bps` (kept within $20..$500)
    /// with `conf_bps` of confidence, published `now`.
    pub(super) fn set_perp_price(&mut self, change_bps: i32, conf_bps: u32, now: i64) {
        let o = &mut self.perp_oracle;
        let value = o.value as i128 * (10_000 + change_bps as i128) / 10_000;
        o.value = value.clamp(PERP_PRICE_BOUNDS.0, PERP_PRICE_BOUNDS.1) as i64;
        o.conf = (o.value as u128 * conf_bps as u128 / 10_000) as u64;
        o.publish = now;
        o.fault = None;
        self.write_perp_oracle();
    }

    /// The `PerpFault` action: the perp oracle goes stale (61 s old) or unconfident.
    pub(super) fn set_perp_fault(&mut self, fault: PerpFault, now: i64) {
        let o = &mut self.perp_oracle;
        match fault {
            PerpFault::Stale => o.publish = now - 61,
            PerpFault::WideConf => o.fault = Some(OracleFault::WideConf),
        }
        self.write_perp_oracle();
    }

    /// The perp price the campaign last wrote, in units of $0.0001.
    pub(super) fn perp_oracle_value(&self) -> i64 {
        self.perp_oracle.value
    }

    fn write_perp_oracle(&mut self) {
        let o = self.perp_oracle;
        let conf =
            if o.fault == Some(OracleFault::WideConf) { o.value as u64 / 30 } else { o.conf };
        let quote = Quote { price: o.value, conf, exponent: -4, publish_time: o.publish };
        let perp = self.perp;
        self.m.sandbox.set_perp_price(&perp, quote);
    }
}
