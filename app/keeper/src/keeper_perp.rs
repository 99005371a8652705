//! Working an account with perp slots: each round, the next step `plan_perp` chooses (in the
//! program's order of operations), sent as its instruction with the account's health accounts,
//! until nothing is left to do; once the account holds no perp slot, the token flow takes over.

use anyhow::anyhow;
use cross_margin::events::{PerpBankruptcyResolved, PerpLiquidation, PnlSettled};
use cross_margin::state::MarginAccount;
use cross_margin_client::outcome::decode_events;
use cross_margin_client::perp_ix::{self, health_accounts_with_perps};
use cross_margin_client::{Pubkey, Signer};

use crate::evaluate::{assess, Status};
use crate::keeper::{
    Keeper, PerpLiquidationDone, PerpResolutionDone, RoundReport, SettlementDone, Skipped,
};
use crate::market::MarketState;
use crate::plan::NoPlan;
use crate::plan_perp::{plan_account, settle_value, Candidate, PerpStep};

impl Keeper {
    /// Takes an account with perp slots step by step until it needs nothing more (or a step is
    /// refused, or the per-account budget is spent).
    pub(crate) fn work_perp_account(
        &self,
        backend: &mut dyn crate::Backend,
        market: &MarketState,
        address: Pubkey,
        account: MarginAccount,
        report: &mut RoundReport,
    ) -> anyhow::Result<()> {
        let (mut market, mut account) = (market.clone(), account);
        let mut settled = Vec::new();
        for step in 0..self.config.max_steps_per_account {
            if !account.has_perps() {
                // Only tokens left: the token flow, judged afresh.
                let (risks, group) = (market.risks(), &market.group);
                let (buffer, dust) =
                    (group.liquidation_end_buffer_bps, group.bankruptcy_dust_quote);
                return match assess(&risks, &account, buffer, dust).status {
                    Status::Bankrupt => self.resolve(backend, &market, address, account, report),
                    Status::Liquidatable => {
                        self.liquidate_account(backend, market, address, account, report)
                    }
                    _ => Ok(()),
                };
            }
            let liquidator = self.fetch_margin_account(backend, &self.config.liquidator_account)?;
            let candidate = match plan_account(&market, &account, &liquidator, &settled) {
                Ok(candidate) => candidate,
                Err(NoPlan::NotLiquidatable) if step > 0 => return Ok(()),
                Err(reason) => {
                    if reason != NoPlan::NotLiquidatable {
                        tracing::warn!(account = %address, %reason, "not acting on a perp account");
                    }
                    let reason = reason.to_string();
                    report.skipped.push(Skipped::NoPlan { account: address, reason });
                    return Ok(());
                }
            };
            if let PerpStep::Liquidate(_) | PerpStep::LiquidatePerp { .. } = candidate.step {
                if let Err(skipped) = self.profitable(address, candidate.profit_quote) {
                    report.skipped.push(skipped);
                    return Ok(());
                }
            }
            if let Err(skipped) =
                self.execute_perp_step(backend, &market, address, &account, &candidate, report)?
            {
                report.skipped.push(skipped);
                return Ok(());
            }
            if let PerpStep::SettlePnl { market_index, .. } = candidate.step {
                settled.push(market_index);
            }
            market = self.refresh_market(backend, &market)?;
            account = self.fetch_margin_account(backend, &address)?;
        }
        Ok(())
    }

    /// Whether a liquidation predicted to earn `predicted_quote` clears `min_profit_quote`. A
    /// threshold of 0 (the default) checks nothing: a step whose fee rounds to nothing or is
    /// capped by an insolvent account's equity (predicted 0 or -1) is still sent.
    pub(crate) fn profitable(&self, account: Pubkey, predicted_quote: i128) -> Result<(), Skipped> {
        if self.config.min_profit_quote <= 0 || predicted_quote >= self.config.min_profit_quote {
            return Ok(());
        }
        tracing::info!(
            %account,
            predicted_usd = predicted_quote as f64 / crate::metrics::QUOTE_PER_USD,
            min_usd = self.config.min_profit_quote as f64 / crate::metrics::QUOTE_PER_USD,
            "below the minimum profit: not liquidating"
        );
        Err(Skipped::BelowMinProfit { account, predicted_quote })
    }

    /// Builds, simulates (for the CU limit) and sends one planned step; records what landed.
    fn execute_perp_step(
        &self,
        backend: &mut dyn crate::Backend,
        market: &MarketState,
        address: Pubkey,
        account: &MarginAccount,
        candidate: &Candidate,
        report: &mut RoundReport,
    ) -> anyhow::Result<Result<(), Skipped>> {
        let bank = |index: u16| market.bank_ref(index).expect("the account's banks exist");
        let perp = |index: u16| market.perp_ref(index).expect("the account's markets exist");
        let health = health_accounts_with_perps(account, bank, perp);
        let group = self.config.group;
        let instruction = match &candidate.step {
            PerpStep::Liquidate(plan) => {
                let done =
                    match self.execute_liquidation(backend, market, address, account, plan)? {
                        Ok(done) => done,
                        Err(skipped) => return Ok(Err(skipped)),
                    };
                tracing::info!(
                    liquidatee = %address,
                    liab_bank = plan.liab_bank,
                    asset_bank = plan.asset_bank,
                    liab = done.event.liab_amount,
                    "liquidated (an account with perps)"
                );
                report.liquidations.push(done);
                return Ok(Ok(()));
            }
            &PerpStep::LiquidatePerp { market_index, max_base_lots, .. } => {
                let (liquidator, owner) = (self.config.liquidator_account, self.signer.pubkey());
                let market = perp(market_index);
                perp_ix::liquidate_perp(
                    group,
                    liquidator,
                    owner,
                    address,
                    &market,
                    max_base_lots,
                    health,
                )
            }
            &PerpStep::SettlePnl { market_index, .. } => {
                perp_ix::settle_pnl(group, address, &perp(market_index), health)
            }
            &PerpStep::ResolvePerpBankruptcy { market_index, .. } => {
                perp_ix::resolve_perp_bankruptcy(group, address, &perp(market_index), health)
            }
        };
        let (landed, compute_limit) = match self.send(backend, address, instruction)? {
            Ok(sent) => sent,
            Err(skipped) => return Ok(Err(skipped)),
        };
        let (signature, compute_units) = (landed.signature.clone(), landed.compute_units);
        let missing = || anyhow!("{signature}: the step emitted no event");
        match candidate.step {
            PerpStep::LiquidatePerp { market_index, outcome: planned, .. } => {
                let event =
                    decode_events::<PerpLiquidation>(&landed.logs).pop().ok_or_else(missing)?;
                let settle = perp(market_index).settle_bank.index;
                let profit_quote = settle_value(market, settle, event.liquidation_fee);
                let metrics = &self.config.metrics;
                metrics.profit("liquidate_perp", candidate.profit_quote, profit_quote);
                tracing::info!(
                    liquidatee = %address,
                    market_index,
                    lots_before = event.base_lots_before,
                    lots_after = event.base_lots_after,
                    fee = event.liquidation_fee,
                    maint_after = event.maint_health_after as i64,
                    compute_units,
                    "perp liquidated"
                );
                report.perp_liquidations.push(PerpLiquidationDone {
                    signature,
                    event,
                    compute_units,
                    compute_limit,
                    profit_quote,
                    planned,
                });
            }
            PerpStep::SettlePnl { market_index, outcome: planned } => {
                let event = decode_events::<PnlSettled>(&landed.logs).pop().ok_or_else(missing)?;
                let amount = event.amount;
                tracing::info!(account = %address, market_index, amount, "pnl settled");
                let done = SettlementDone { signature, event, compute_units, planned };
                report.settlements.push(done);
            }
            PerpStep::ResolvePerpBankruptcy { market_index, outcome: planned } => {
                let event = decode_events::<PerpBankruptcyResolved>(&landed.logs)
                    .pop()
                    .ok_or_else(missing)?;
                tracing::info!(
                    account = %address,
                    market_index,
                    loss = event.loss,
                    from_collateral = event.from_collateral,
                    from_insurance = event.from_insurance,
                    socialised = event.socialised,
                    "perp bankruptcy resolved"
                );
                let done = PerpResolutionDone { signature, event, compute_units, planned };
                report.perp_resolutions.push(done);
            }
            PerpStep::Liquidate(_) => unreachable!("returned above"),
        }
        Ok(Ok(()))
    }
}
