use anchor_lang::prelude::*;
use anchor_spl::token_2022::spl_token_2022::extension::{
    BaseStateWithExtensions, ExtensionType, StateWithExtensions,
};
use anchor_spl::token_2022::spl_token_2022::state::Mint as MintState;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{BANK_SEED, BANK_VERSION, MAX_MINT_DECIMALS, VAULT_SEED};
use crate::error::MarginError;
use crate::events::BankAdded;
use crate::math::BPS;
use crate::oracle::{read_raw, OracleAccount};
use crate::state::{Bank, Group, OracleKind};

/// Everything an admin sets on a bank. Weights, fees and rates are in bps (10_000 = 1.0;
/// rates are APRs).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct BankConfig {
    /// 0 = Pyth pull (`PriceUpdateV2`), 1 = Pyth legacy.
    pub oracle_kind: u8,
    /// Pyth feed id (pull oracle; ignored for legacy, whose account is the feed).
    pub oracle_feed_id: [u8; 32],
    pub oracle_max_age_secs: u32,
    pub oracle_max_conf_bps: u32,
    pub oracle_conf_multiplier_bps: u32,
    pub init_asset_weight_bps: u32,
    pub maint_asset_weight_bps: u32,
    pub init_liab_weight_bps: u32,
    pub maint_liab_weight_bps: u32,
    pub liquidation_fee_bps: u32,
    pub insurance_fee_bps: u32,
    pub optimal_utilization_bps: u32,
    pub min_rate_bps: u32,
    pub optimal_rate_bps: u32,
    pub max_rate_bps: u32,
    pub deposit_limit_native: u64,
    pub borrow_limit_native: u64,
    pub deposit_weight_scale_start_quote: u64,
}

/// Highest liability weight accepted (5.0).
const MAX_LIAB_WEIGHT_BPS: u32 = 5 * BPS;
/// Highest liquidation or insurance fee accepted (25%).
const MAX_FEE_BPS: u32 = 2_500;
/// Highest APR accepted (10,000%).
const MAX_RATE_BPS: u32 = 1_000_000;
/// Token-2022 extensions that do not change how transfers move amounts or who may move them.
/// `MintCloseAuthority` is not among them: a mint closed at zero supply can be created again at
/// the same address with other extensions (a transfer fee, a hook, a permanent delegate) and a new
/// mint authority, under a bank that still trusts the address.
const ALLOWED_MINT_EXTENSIONS: [ExtensionType; 7] = [
    ExtensionType::MetadataPointer,
    ExtensionType::TokenMetadata,
    ExtensionType::GroupPointer,
    ExtensionType::TokenGroup,
    ExtensionType::GroupMemberPointer,
    ExtensionType::TokenGroupMember,
    ExtensionType::InterestBearingConfig,
];

impl BankConfig {
    pub fn validate(&self) -> Result<()> {
        OracleKind::from_u8(self.oracle_kind).ok_or(MarginError::InvalidOracleKind)?;
        require!(
            self.oracle_max_age_secs > 0
                && self.oracle_max_conf_bps > 0
                && self.oracle_max_conf_bps <= BPS
                && self.oracle_conf_multiplier_bps <= 10 * BPS,
            MarginError::InvalidOracleConfig
        );
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
        Ok(())
    }

    /// Checks that `oracle` is a readable price account of the configured kind and feed.
    pub fn validate_oracle(&self, group: &Group, oracle: &AccountInfo) -> Result<()> {
        let kind = OracleKind::from_u8(self.oracle_kind).ok_or(MarginError::InvalidOracleKind)?;
        let data = oracle.try_borrow_data()?;
        let account = OracleAccount { key: oracle.key, owner: oracle.owner, data: &data };
        read_raw(kind, group, &self.oracle_feed_id, account)?;
        Ok(())
    }

    pub fn apply(&self, bank: &mut Bank, oracle: Pubkey) {
        bank.oracle = oracle;
        bank.oracle_kind = self.oracle_kind;
        bank.oracle_feed_id = self.oracle_feed_id;
        bank.oracle_max_age_secs = self.oracle_max_age_secs;
        bank.oracle_max_conf_bps = self.oracle_max_conf_bps;
        bank.oracle_conf_multiplier_bps = self.oracle_conf_multiplier_bps;
        bank.init_asset_weight_bps = self.init_asset_weight_bps;
        bank.maint_asset_weight_bps = self.maint_asset_weight_bps;
        bank.init_liab_weight_bps = self.init_liab_weight_bps;
        bank.maint_liab_weight_bps = self.maint_liab_weight_bps;
        bank.liquidation_fee_bps = self.liquidation_fee_bps;
        bank.insurance_fee_bps = self.insurance_fee_bps;
        bank.optimal_utilization_bps = self.optimal_utilization_bps;
        bank.min_rate_bps = self.min_rate_bps;
        bank.optimal_rate_bps = self.optimal_rate_bps;
        bank.max_rate_bps = self.max_rate_bps;
        bank.deposit_limit_native = self.deposit_limit_native;
        bank.borrow_limit_native = self.borrow_limit_native;
        bank.deposit_weight_scale_start_quote = self.deposit_weight_scale_start_quote;
    }
}

#[derive(Accounts)]
pub struct AddBank<'info> {
    #[account(mut, has_one = admin @ MarginError::NotGroupAdmin)]
    pub group: AccountLoader<'info, Group>,
    pub admin: Signer<'info>,
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(mint::token_program = token_program)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    #[account(
        init,
        payer = payer,
        space = 8 + Bank::SIZE,
        seeds = [BANK_SEED, group.key().as_ref(), mint.key().as_ref()],
        bump,
    )]
    pub bank: AccountLoader<'info, Bank>,
    #[account(
        init,
        payer = payer,
        seeds = [VAULT_SEED, bank.key().as_ref()],
        bump,
        token::mint = mint,
        token::authority = bank,
        token::token_program = token_program,
    )]
    pub vault: Box<InterfaceAccount<'info, TokenAccount>>,
    /// CHECK: validated as a price account of the configured kind and feed in the handler.
    pub oracle: UncheckedAccount<'info>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

pub fn handler(ctx: Context<AddBank>, config: BankConfig) -> Result<()> {
    config.validate()?;
    let mint = &ctx.accounts.mint;
    require!(mint.decimals <= MAX_MINT_DECIMALS, MarginError::UnsupportedMintDecimals);
    check_mint_extensions(&ctx.accounts.mint.to_account_info())?;

    let mut group = ctx.accounts.group.load_mut()?;
    config.validate_oracle(&group, &ctx.accounts.oracle)?;
    let bank_index = group.bank_count;
    group.bank_count = bank_index.checked_add(1).ok_or(MarginError::TooManyBanks)?;

    let mut bank = ctx.accounts.bank.load_init()?;
    bank.group = ctx.accounts.group.key();
    bank.mint = mint.key();
    bank.vault = ctx.accounts.vault.key();
    bank.token_program = ctx.accounts.token_program.key();
    bank.decimals = mint.decimals;
    bank.bank_index = bank_index;
    bank.version = BANK_VERSION;
    bank.bump = ctx.bumps.bank;
    bank.vault_bump = ctx.bumps.vault;
    bank.set_deposit_index(Bank::initial_index());
    bank.set_borrow_index(Bank::initial_index());
    bank.last_accrual_ts = Clock::get()?.unix_timestamp;
    config.apply(&mut bank, ctx.accounts.oracle.key());

    emit!(BankAdded {
        group: bank.group,
        bank: ctx.accounts.bank.key(),
        mint: bank.mint,
        bank_index,
        oracle: bank.oracle,
    });
    Ok(())
}

/// Token-2022 mints may only carry extensions that leave transfers exact and unrestricted:
/// no transfer fees or hooks, no permanent delegate, no freezing by default.
fn check_mint_extensions(mint: &AccountInfo) -> Result<()> {
    if *mint.owner != anchor_spl::token_2022::ID {
        return Ok(());
    }
    let data = mint.try_borrow_data()?;
    let state = StateWithExtensions::<MintState>::unpack(&data)
        .map_err(|_| MarginError::UnsupportedMintExtension)?;
    let extensions =
        state.get_extension_types().map_err(|_| MarginError::UnsupportedMintExtension)?;
    require!(
        extensions.iter().all(|e| ALLOWED_MINT_EXTENSIONS.contains(e)),
        MarginError::UnsupportedMintExtension
    );
    Ok(())
}
