//! The program's one error enum. Codes are part of the public API (clients decode them by
//! number), so variants are only ever appended, never reordered or removed.

use anchor_lang::prelude::*;

#[error_code]
#[derive(PartialEq, Eq)]
pub enum MarginError {
    // --- group (6000..) ---
    #[msg("Oracle program id must not be the default (all-zero) key")]
    OracleProgramIdIsDefault,
    #[msg("The Pyth receiver and legacy Pyth program ids must differ")]
    OracleProgramIdsNotDistinct,
    #[msg("Arithmetic overflow")]
    MathOverflow,
    #[msg("Signer is not the group admin")]
    NotGroupAdmin,
    #[msg("The group is paused: withdraw and borrow are stopped")]
    GroupPaused,
    #[msg("The group is reduce-only: no new borrows or deposits")]
    GroupReduceOnly,
    #[msg("The group already has the maximum number of banks")]
    TooManyBanks,

    // --- bank configuration ---
    #[msg("Weights must satisfy 0 < init asset <= maint asset <= 1 <= maint liab <= init liab")]
    InvalidRiskWeights,
    #[msg("Fee out of range")]
    InvalidFee,
    #[msg("Interest curve out of range (rates must rise with utilization, optimum in (0, 1))")]
    InvalidInterestCurve,
    #[msg("Oracle configuration out of range")]
    InvalidOracleConfig,
    #[msg("Unknown oracle kind")]
    InvalidOracleKind,
    #[msg("Mint decimals above the supported maximum")]
    UnsupportedMintDecimals,
    #[msg("Token-2022 mint has an extension outside the allow-list (only metadata and group extensions are supported)")]
    UnsupportedMintExtension,

    // --- oracles ---
    #[msg("Oracle account is not the bank's pinned oracle")]
    OracleAccountMismatch,
    #[msg("Oracle account is not owned by the group's oracle program")]
    OracleWrongOwner,
    #[msg("Oracle account could not be decoded")]
    OracleInvalidAccount,
    #[msg("Oracle price is for another feed")]
    OracleWrongFeed,
    #[msg("Oracle update is not fully verified")]
    OracleNotFullyVerified,
    #[msg("Oracle price is stale")]
    OracleStale,
    #[msg("Oracle confidence interval is too wide")]
    OracleConfidenceTooWide,
    #[msg("Oracle price is not positive")]
    OracleNonPositivePrice,
    #[msg("Legacy Pyth price status is not Trading")]
    OracleNotTrading,

    // --- accounts and positions ---
    #[msg("Signer is not the margin account owner")]
    NotAccountOwner,
    #[msg("Account belongs to another group")]
    WrongGroup,
    #[msg("All position slots are in use")]
    NoFreePositionSlot,
    #[msg("Account still has open positions")]
    AccountNotEmpty,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Withdrawal exceeds the deposit")]
    InsufficientDeposit,
    #[msg("Repayment exceeds the debt")]
    RepayExceedsDebt,
    #[msg("No borrow to repay in this bank")]
    NoBorrow,
    #[msg("The account holds a deposit in this bank; withdraw it before borrowing")]
    BorrowAgainstOwnDeposit,
    #[msg("Deposit limit of the bank reached")]
    DepositLimitExceeded,
    #[msg("Borrow limit of the bank reached")]
    BorrowLimitExceeded,
    #[msg("Not enough liquidity in the bank's vault")]
    InsufficientLiquidity,
    #[msg("Init health would be negative")]
    InitHealthNegative,
    #[msg("Account is bankrupt")]
    AccountBankrupt,
    #[msg("Account is being liquidated")]
    AccountBeingLiquidated,

    // --- vaults and tokens ---
    #[msg("Vault is not the bank's vault")]
    WrongVault,
    #[msg("Mint is not the bank's mint")]
    WrongMint,
    #[msg("Token program is not the bank's token program")]
    WrongTokenProgram,

    // --- health accounts (remaining accounts: (bank, oracle) per active position) ---
    #[msg("Health accounts missing: pass (bank, oracle) for every active position")]
    HealthAccountsMissing,
    #[msg("Extra accounts after the health accounts")]
    HealthAccountsExtra,
    #[msg("Health bank does not match the position (wrong order or wrong bank)")]
    HealthBankMismatch,
    #[msg("A bank appears twice in the health accounts")]
    HealthBankDuplicate,
    #[msg("Health bank belongs to another group")]
    HealthBankWrongGroup,
    #[msg("Health account is not a bank of this program")]
    HealthBankInvalid,
    #[msg("Amount is worth less than one share")]
    AmountTooSmall,
    #[msg("Token account balance is lower than the amount")]
    InsufficientTokenBalance,
    #[msg("Liquidation end buffer out of range: above zero and at most 100% of maint-weighted liabilities")]
    InvalidLiquidationConfig,
    #[msg("An account cannot liquidate itself")]
    SelfLiquidation,
    #[msg("Account is not liquidatable (maint health >= 0, or above the end target)")]
    NotLiquidatable,
    #[msg("The liquidatee has no borrow in the liability bank")]
    LiquidationLiabNotBorrow,
    #[msg("The liquidatee has no deposit in the asset bank")]
    LiquidationAssetNotDeposit,
    #[msg("Liability and asset bank must differ")]
    LiquidationSameBank,
    #[msg("Nothing to liquidate: the amount rounds to zero")]
    LiquidationAmountZero,
    #[msg("The liquidation would not improve the liquidatee's maint health")]
    LiquidationDidNotImprove,
    #[msg("The liquidator's init health would be negative")]
    LiquidatorInitHealthNegative,
    #[msg("Account is not bankrupt: it has no debt, its deposits are worth at least the dust threshold, or it is solvent (deposits worth at least its debts) and no liquidation flagged it")]
    NotBankrupt,
    #[msg("(1 + liquidation fee + insurance fee) x maint asset weight must be below 1, or liquidations against this collateral would lower health")]
    LiquidationFeeTooHigh,
    #[msg("The loss left after the insurance fund is as large as the bank's deposits and cannot be shared out; fund the insurance first")]
    LossExceedsDeposits,
    #[msg(
        "The bankruptcy dust threshold must be above zero (or no account could ever be written off) and at most MAX_BANKRUPTCY_DUST_QUOTE ($1,000)"
    )]
    InvalidBankruptcyDust,
    #[msg("A write-off takes the account's leftover deposits: their banks must be writable")]
    WriteOffBankNotWritable,
    #[msg(
        "Oracle publish time is more than ORACLE_MAX_FUTURE_SECS (60 s) ahead of the chain's clock"
    )]
    OraclePublishTimeInFuture,
    #[msg("close_account takes the bank of every position left (worthless deposits), in slot order, and nothing else")]
    CloseAccountBankMismatch,
    #[msg("The bank's net borrows in this window would exceed its net borrow limit")]
    NetBorrowLimitExceeded,
    #[msg("A net borrow limit needs a window length above zero")]
    InvalidNetBorrowLimit,
    #[msg("Signer is not the admin this group's admin proposed")]
    NotPendingAdmin,
    #[msg("No admin transfer is pending")]
    NoAdminTransferPending,
    #[msg("This change can hurt existing positions: queue it (queue_bank_config / queue_group_config); anyone may apply it once the group's delay has passed")]
    ConfigChangeMustBeQueued,
    #[msg("A configuration change is already queued: apply or cancel it first")]
    ConfigChangeAlreadyQueued,
    #[msg("No configuration change is queued")]
    NoConfigChangeQueued,
    #[msg("The queued change's delay has not passed yet")]
    ConfigChangeNotReady,
    #[msg("The configuration delay must be between MIN_CONFIG_DELAY_SECS (1 day) and MAX_CONFIG_DELAY_SECS (30 days), and never lower than a live group's minimum")]
    InvalidConfigDelay,
    #[msg("Pause, reduce-only and the emergency admin apply at once with configure_group: they cannot be queued")]
    NotATimelockedSetting,
    #[msg("Signer is neither the group admin nor its emergency admin")]
    NotGroupAdminOrEmergency,
    #[msg("halt needs pause or reduce-only (it only turns them on)")]
    NothingToHalt,
    #[msg("No queued change applies while the group is paused: its users could not withdraw; it is due a delay after the pause ends")]
    ConfigChangeWhilePaused,
    #[msg("The queued change changes nothing")]
    EmptyConfigChange,
    #[msg("In a live group the oracle max age may be at most LIVE_MAX_ORACLE_AGE_SECS (1 hour)")]
    OracleMaxAgeTooLong,
    #[msg("Perp market index must be the group's next one (perp_market_count)")]
    PerpMarketIndexMismatch,
    #[msg("A perp market settles in a bank of the same group whose token has 6 decimals (one token = one quote unit)")]
    InvalidSettleBank,
    #[msg("Perp lot size must be above 0, base decimals at most 12, and open-interest caps at most i64::MAX lots")]
    InvalidPerpLotSize,
    #[msg("No free perp slot: close or settle a perp position first")]
    NoFreePerpSlot,
    #[msg("Every perp position of an account settles in the same bank")]
    PerpSettleBankMismatch,
    #[msg("A reduce-only order must be opposite to the position and at most its size")]
    PerpReduceOnly,
    #[msg("The fill's price, fee included, is worse than the order's limit price")]
    PerpSlippageExceeded,
    #[msg("The order would take the market's open interest above its cap")]
    PerpOpenInterestCap,
    #[msg("Order size is too large (above i64::MAX lots)")]
    PerpSizeTooLarge,
    #[msg("Health accounts: this perp market is not the one the perp slot holds (or not a perp market of this group)")]
    HealthPerpMarketMismatch,
    #[msg(
        "Health accounts: the settle bank pair is missing or is not the perp slots' settle bank"
    )]
    HealthSettleBankMismatch,
    #[msg("The pool is worth nothing or less: LP deposits are refused until traders' gains are paid or lost")]
    PoolInsolvent,
    #[msg("More pool shares than the account holds")]
    InsufficientPoolShares,
    #[msg("The withdrawal would leave the pool worth less than pool_cover_bps of the larger side's open interest, or more than the pool holds")]
    PoolCoverTooLow,
    #[msg("The account holds perp positions: close them (liquidate_perp) and write off their losses (resolve_perp_bankruptcy) first")]
    PerpPositionsOpen,
    #[msg("Nothing to settle: the position's PnL is zero or the pool holds nothing")]
    NothingToSettle,
    #[msg("No LP holds pool shares: the pool takes no new risk until one deposits")]
    PoolEmpty,
    #[msg("The pool cover must be above 0 (the last LP may only leave once open interest is 0) and at most 100%")]
    InvalidPoolCover,
    #[msg("The account has no position in this perp market to liquidate")]
    PerpNoPositionToLiquidate,
    #[msg("The account's perp loss in this market is not a loss to write off (settle a gain with settle_pnl)")]
    PerpNoLossToWriteOff,
    #[msg("The health view of this account does not fit the 1 KiB of return data (too many token and perp positions together): compute it off chain with the same health accounts")]
    HealthViewTooLarge,
    #[msg("flash_loan_begin: no flash_loan_end of this program follows it in the transaction")]
    FlashLoanEndMissing,
    #[msg("flash_loan_begin: a flash loan is already open, or another flash_loan_begin comes before the matching flash_loan_end (no nesting)")]
    FlashLoanNested,
    #[msg("flash_loan_begin and flash_loan_end must be instructions of the transaction itself, not called through CPI")]
    FlashLoanCpi,
    #[msg("flash_loan_begin: the next flash_loan_end is for another margin account")]
    FlashLoanEndAccountMismatch,
    #[msg("flash_loan_end: this account has no flash loan open (flash_loan_begin must come first in the same transaction)")]
    FlashLoanNotActive,
    #[msg("The account is inside a flash loan: it cannot be liquidated, written off, settled or closed until flash_loan_end")]
    AccountInFlashLoan,
    #[msg("This account must be the instructions sysvar (Sysvar1nstructions1111111111111111111111111)")]
    WrongInstructionsSysvar,
    #[msg("Price shocks: each index at most once, at most 16 per kind, each between -10000 bps (a price of zero) and +100000 bps")]
    InvalidPriceShock,
}
