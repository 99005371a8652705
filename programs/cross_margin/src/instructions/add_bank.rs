use anchor_lang::prelude::*;
use anchor_spl::token_2022::spl_token_2022::extension::{
    BaseStateWithExtensions, ExtensionType, StateWithExtensions,
};
use anchor_spl::token_2022::spl_token_2022::state::Mint as MintState;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};

use crate::constants::{BANK_SEED, BANK_VERSION, MAX_MINT_DECIMALS, VAULT_SEED};
use crate::error::MarginError;
use crate::events::BankAdded;
use crate::instructions::queue_bank_config::queue;
use crate::state::{Bank, BankConfig, Group};

/// Token-2022 extensions that do not change how transfers move amounts or who may move them.
/// `MintCloseAuthority` is not among them: a mint closed at zero supply can be created again at
/// the same address with other extensions (a transfer fee, a hook, a permanent delegate) and a new
/// mint authority, under a bank that still trusts the address. Nor is `InterestBearingConfig`:
/// its UI amount grows with a rate the mint's authority sets, while the bank values native units
/// at the oracle's price of the token, so the two disagree by the accrued multiplier.
const ALLOWED_MINT_EXTENSIONS: [ExtensionType; 6] = [
    ExtensionType::MetadataPointer,
    ExtensionType::TokenMetadata,
    ExtensionType::GroupPointer,
    ExtensionType::TokenGroup,
    ExtensionType::GroupMemberPointer,
    ExtensionType::TokenGroupMember,
];

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
    let now = Clock::get()?.unix_timestamp;
    bank.last_accrual_ts = now;
    let oracle = ctx.accounts.oracle.key();
    let key = ctx.accounts.bank.key();
    if group.is_live() {
        // A new bank opens only after the delay, like any change that adds room to borrow: it
        // starts with no deposits or borrows allowed, and its configuration queued.
        let closed = BankConfig { deposit_limit_native: 0, borrow_limit_native: 0, ..config };
        closed.apply(&mut bank, oracle);
        queue(&mut bank, key, &config, oracle, now, group.config_delay_secs)?;
    } else {
        config.apply(&mut bank, oracle);
    }

    emit!(BankAdded { group: bank.group, bank: key, mint: bank.mint, bank_index, oracle });
    Ok(())
}

/// Token-2022 mints may only carry extensions that leave transfers exact and unrestricted:
/// no transfer fees or hooks, no permanent delegate, no freezing by default, no close authority,
/// no interest-bearing UI amount.
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
