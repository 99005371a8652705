//! Flash-loan building blocks shared by the flash-loan tests and the CU table: the bracket's
//! instructions, a swap leg (a real SPL Token trade with a second signer, a market maker), and
//! the zero-capital liquidation: begin, liquidate, withdraw, sell, repay, end.

use anchor_lang::prelude::AccountMeta;
use anchor_spl::token::spl_token;
use cross_margin::positions;
use cross_margin_client::ix::{self, BankRef};

use crate::market::*;
use crate::scenarios::*;
use crate::*;

/// The USDC debt taken over in the liquidation (100 USDC).
pub const TAKEN_OVER: u64 = 100_000_000;
/// What the market maker pays for the seized 1.12 SOL ($105 at $93.75): 104.5 USDC.
pub const SWAP_PROCEEDS: u64 = 104_500_000;

/// An SPL Token transfer of `amount` from `from` to `to`, signed by `authority`.
pub fn token_transfer(from: Pubkey, to: Pubkey, authority: Pubkey, amount: u64) -> Instruction {
    spl_token::instruction::transfer(&spl_token::ID, &from, &to, &authority, &[], amount)
        .expect("a valid transfer")
}

/// A trade between `user` and `maker`: `user` gives `give` of `sold`, `maker` gives `take` of
/// `bought`. Both sign the transaction.
pub fn swap(
    user: &User,
    maker: &User,
    sold: &BankRef,
    give: u64,
    bought: &BankRef,
    take: u64,
) -> [Instruction; 2] {
    [
        token_transfer(
            user.tokens[sold.index as usize],
            maker.tokens[sold.index as usize],
            user.keypair.pubkey(),
            give,
        ),
        token_transfer(
            maker.tokens[bought.index as usize],
            user.tokens[bought.index as usize],
            maker.keypair.pubkey(),
            take,
        ),
    ]
}

pub fn flash_loan_begin_ix(user: &User) -> Instruction {
    ix::flash_loan_begin(user.account, user.keypair.pubkey())
}

pub fn flash_loan_end_ix(m: &Market, user: &User, health: Vec<AccountMeta>) -> Instruction {
    ix::flash_loan_end(m.group, user.account, user.keypair.pubkey(), health)
}

/// The liquidatable market of the liquidation tests (10 SOL at $93.75 against 900 USDC), a
/// liquidator with an empty margin account and no tokens at all, and a market maker holding
/// USDC and able to receive SOL.
pub fn zero_capital_setup() -> (Market, User, User, User) {
    let (mut m, liquidatee, _) = one_asset_one_liability(900_000_000);
    let now = m.now();
    let sol = m.sol;
    m.set_price(&sol, sol_at_93_75(now));
    let liquidator = m.user([0, 0, 0]);
    let maker = m.user([1_000_000_000, 0, 0]);
    (m, liquidatee, liquidator, maker)
}

/// begin, liquidate 100 USDC of debt for 1.12 SOL, withdraw the SOL, sell it, repay, end.
pub fn liquidate_sell_repay(
    m: &Market,
    liquidator: &User,
    liquidatee: &User,
    maker: &User,
) -> Vec<Instruction> {
    let (usdc, sol) = (m.usdc, m.sol);
    let seized = 1_120_000_000;
    // The debt the liquidator will owe, by the program's own position maths.
    let after = ix::liquidator_after(
        &m.margin_account(liquidator),
        &m.bank(&usdc),
        TAKEN_OVER,
        &m.bank(&sol),
        seized,
        m.now(),
    );
    let owed = positions::borrow_native(&after, &m.bank(&usdc)).expect("a borrow");
    let liquidate = ix::liquidate(
        m.group,
        liquidator.account,
        liquidator.keypair.pubkey(),
        liquidatee.account,
        usdc.address,
        sol.address,
        TAKEN_OVER,
        m.health_accounts(liquidatee),
        // Inside the bracket the liquidator's health accounts are not needed.
        Vec::new(),
    );
    let mut instructions = vec![flash_loan_begin_ix(liquidator), liquidate];
    instructions.push(ix::withdraw(&m.transfer(liquidator, &sol), seized, Vec::new()));
    instructions.extend(swap(liquidator, maker, &sol, seized, &usdc, SWAP_PROCEEDS));
    instructions.push(ix::repay(&m.transfer(liquidator, &usdc), owed));
    // Nothing is left in the account: no health accounts.
    instructions.push(flash_loan_end_ix(m, liquidator, Vec::new()));
    instructions
}
