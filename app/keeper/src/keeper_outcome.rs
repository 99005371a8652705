//! Reading what came back from the chain: a refusal classified (a lost race or a refusal worth
//! a warning), a landed liquidation read from its event.

use anyhow::anyhow;
use cross_margin::error::MarginError;
use cross_margin::events::Liquidation;
use cross_margin::math::{mul_q64, Round};
use cross_margin_client::outcome::decode_events;
use cross_margin_client::Pubkey;

use crate::backend::{Landed, Rejection};
use crate::keeper::{LiquidationDone, Skipped};

/// A refusal that means the state moved under us (another keeper, the owner) is a lost race;
/// anything else is a refusal worth a warning.
pub(crate) fn classify(account: Pubkey, rejection: &Rejection) -> Skipped {
    // `OracleAccountMismatch`: a queued re-pin was applied between discovery and sending.
    // The perp ones: a position closed, a loss settled or written off by someone else.
    const STATE_MOVED: [MarginError; 15] = [
        MarginError::NotLiquidatable,
        MarginError::AccountBankrupt,
        MarginError::NotBankrupt,
        MarginError::NoBorrow,
        MarginError::LiquidationLiabNotBorrow,
        MarginError::LiquidationAssetNotDeposit,
        MarginError::HealthAccountsExtra,
        MarginError::HealthAccountsMissing,
        MarginError::HealthBankMismatch,
        MarginError::OracleAccountMismatch,
        MarginError::PerpNoPositionToLiquidate,
        MarginError::NothingToSettle,
        MarginError::PerpNoLossToWriteOff,
        MarginError::PerpPositionsOpen,
        MarginError::HealthPerpMarketMismatch,
    ];
    tracing::debug!(%account, logs = %rejection.logs.join("\n"), "refused");
    // The pool moved between the quote and the swap (its codes cannot be cross_margin's).
    let swap_error = rejection.code.and_then(cp_swap::CpSwapError::from_code);
    let slipped = swap_error == Some(cp_swap::CpSwapError::SlippageExceeded);
    let error = match swap_error {
        Some(swap_error) => format!("cp_swap {swap_error:?}"),
        None => rejection.describe(),
    };
    if slipped || STATE_MOVED.iter().any(|e| rejection.is(*e)) {
        tracing::info!(%account, %error, "state moved before we acted (another keeper?); moving on");
        Skipped::LostRace { account, error }
    } else {
        tracing::warn!(%account, %error, "the program refused the transaction");
        Skipped::Refused { account, error }
    }
}

/// A landed liquidation, read back from its `Liquidation` event.
pub(crate) fn liquidation_done(sent: (Landed, u32)) -> anyhow::Result<LiquidationDone> {
    let (landed, compute_limit) = sent;
    let event = decode_events::<Liquidation>(&landed.logs)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("liquidation {} emitted no event", landed.signature))?;
    let overflow = |_| anyhow!("liquidation {}: value overflow", landed.signature);
    let received =
        mul_q64(event.asset_to_liquidator, event.asset_price, Round::Down).map_err(overflow)?;
    let taken = mul_q64(event.liab_amount, event.liab_price, Round::Up).map_err(overflow)?;
    Ok(LiquidationDone {
        signature: landed.signature,
        event,
        compute_units: landed.compute_units,
        compute_limit,
        profit_quote: received as i128 - taken as i128,
    })
}
