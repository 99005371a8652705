//! The adversarial catalogue (docs/SECURITY.md): regression tests for the findings of the
//! security review, and one or more named tests for every attack class the other files do not
//! already cover. Each rejection asserts its own error and that no account changed.

use cross_margin::events::{BankruptcyResolved, CollateralSeized, Liquidation};
use cross_margin::math::ONE_Q64;
use cross_margin::positions;
use cross_margin::state::BankConfig;
use cross_margin::state::{MarginAccount, OracleKind};
use cross_margin_client::ix::{self, Movement};
use cross_margin_client::pyth::{self, Quote};
use cross_margin_tests::market::*;
use cross_margin_tests::scenarios::*;
use cross_margin_tests::*;

// ================================================================ findings (regressions)

/// Finding 1. Deposit $0.9875 of SOL, borrow $0.75 of USDC at init health >= 0: deposits are
/// below the $1 dust threshold and there is debt, so `resolve_bankruptcy` used to write the debt
/// off, and the deposit could then be withdrawn: $0.75 for free, as often as one liked. A
/// solvent account's debt is never written off now.
#[test]
fn finding_dust_writeoff_of_a_solvent_account_is_refused() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol) = (m.usdc, m.sol);
    let attacker = m.user([0, 7_900_000, 0]);
    m.deposit(&attacker, &sol, 7_900_000).expect_ok("deposit $0.9875");
    m.borrow(&attacker, &usdc, 752_380).expect_ok("borrow to init health 1");
    assert_eq!(m.health(&attacker).0.init, 1);
    m.assert_rejected(&attacker, MarginError::NotBankrupt, |m| {
        m.resolve_bankruptcy(&attacker, &usdc)
    });
    // And the collateral stays locked behind the debt.
    m.assert_rejected(&attacker, MarginError::InitHealthNegative, |m| {
        m.withdraw(&attacker, &sol, 7_900_000)
    });
    m.assert_conservation();
}

/// Regression for finding 5 (found by the stress lab's usdc-depeg run): with a stablecoin's 0.98
/// maint weight and 5% + 1% fees, seizing collateral worth 1.06 × the debt took 1.0388 of maint
/// value for at most 1.02 of debt, so every liquidation against it lowered health and was
/// refused: accounts holding it could sink without recourse. Such fees are refused now, and with
/// the fees allowed a liquidation against stablecoin collateral improves health.
#[test]
fn finding_collateral_that_liquidation_could_not_improve_is_refused() {
    let mut m = Market::new();
    m.with_liquidity();
    let admin = m.admin.insecure_clone();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let outsider = m.user([0, 0, 0]);
    let weights = [9_500, 9_800, 10_200, 10_500];
    let config = |fees: (u32, u32)| BankConfig {
        oracle_feed_id: feed_id(0),
        ..cross_margin_testkit::sandbox::bank_config_with_fees(weights, fees.0, fees.1)
    };
    let ix =
        ix::configure_bank(m.group, admin.pubkey(), usdc.address, usdc.oracle, config((500, 100)));
    m.assert_rejected(&outsider, MarginError::LiquidationFeeTooHigh, |m| {
        m.chain.send(&[ix], &[&admin])
    });
    // A new stablecoin bank with those fees is refused as well.
    let mint = m.chain.create_mint(6, anchor_spl::token::ID);
    let (ix, bank, _) = ix::add_bank(
        m.group,
        admin.pubkey(),
        m.chain.payer.pubkey(),
        mint,
        anchor_spl::token::ID,
        usdc.oracle,
        config((500, 100)),
    );
    m.assert_rejected(&outsider, MarginError::LiquidationFeeTooHigh, |m| {
        m.chain.send(&[ix], &[&admin])
    });
    assert!(m.chain.account(&bank).is_none());

    // USDC as it is (1.5% + 0.5%): 1.02 × 0.98 < 1. An account with $1,000 of USDC borrows SOL,
    // SOL rises 20%, and the liquidation against its USDC raises its maint health.
    assert_eq!(
        m.bank(&usdc).config.liquidation_fee_bps + m.bank(&usdc).config.insurance_fee_bps,
        200
    );
    let borrower = m.user([1_000_000_000, 0, 0]);
    let liquidator = m.user([0, 0, 100_000_000]);
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator collateral");
    m.deposit(&borrower, &usdc, 1_000_000_000).expect_ok("deposit USDC");
    m.borrow(&borrower, &sol, 6_000_000_000).expect_ok("borrow 6 SOL ($750)");
    let now = m.now();
    m.set_price(&sol, quote_dollars(150, 0, now));
    assert!(m.health(&borrower).0.liquidatable);
    let executed =
        m.liquidate(&liquidator, &borrower, &sol, &usdc, u64::MAX).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert!(event.maint_health_after > event.maint_health_before);
    assert!(event.maint_health_after >= event.end_target_after, "reaches the end target");
    m.assert_conservation();
}

/// Finding 1, second half: a liquidation that leaves a dust account *solvent* must not flag it
/// bankrupt (the flag lets `resolve_bankruptcy` skip pricing the debt), or a self-liquidation
/// by a second account would reopen the write-off.
#[test]
fn finding_a_liquidation_never_flags_a_solvent_account_bankrupt() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let tiny = m.user([0, 7_900_000, 0]);
    let liquidator = m.user([0, 0, 100_000_000]);
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator collateral");
    m.deposit(&tiny, &sol, 7_900_000).expect_ok("deposit $0.9875");
    m.borrow(&tiny, &usdc, 752_380).expect_ok("borrow $0.75");
    // SOL to $100: deposits $0.79 > debt $0.75 (solvent), maint 0.711 − 0.767 < 0.
    let now = m.now();
    m.set_price(&sol, quote_dollars(100, 0, now));
    assert!(m.health(&tiny).0.maint < 0);
    let executed = m.liquidate(&liquidator, &tiny, &usdc, &sol, 1_000).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert!(!event.bankrupt, "solvent after the step: not bankrupt");
    assert_eq!(m.margin_account(&tiny).bankrupt, 0);
    m.assert_rejected(&tiny, MarginError::NotBankrupt, |m| m.resolve_bankruptcy(&tiny, &usdc));
}

/// Finding 1: an insolvent dust account (deposits worth less than its debts) is still written
/// off without a liquidation, and cheaply.
#[test]
fn an_insolvent_dust_account_is_written_off_without_a_liquidation() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol) = (m.usdc, m.sol);
    let tiny = m.user([0, 7_900_000, 0]);
    m.deposit(&tiny, &sol, 7_900_000).expect_ok("deposit $0.9875");
    m.borrow(&tiny, &usdc, 752_380).expect_ok("borrow $0.75");
    let now = m.now();
    m.set_price(&sol, quote_dollars(50, 0, now)); // deposits $0.395 < debt $0.75
    let executed = m.resolve_bankruptcy(&tiny, &usdc).expect_ok("write off");
    // One priced deposit, which the write-off then moves into the SOL insurance fund.
    let budget = budget::RESOLVE_BANKRUPTCY + 4_000 + budget::SEIZE_DEPOSIT;
    assert_cu("resolve_bankruptcy (unflagged)", &executed, budget);
    let event = &executed.events::<BankruptcyResolved>()[0];
    assert_eq!(event.debt, 752_380);
    assert_eq!(executed.events::<CollateralSeized>()[0].native, 7_900_000);
    assert!(!m.margin_account(&tiny).has_borrows());
    m.assert_conservation();
}

/// Finding 2. The bankrupt flag used to stay set after the owner repaid the whole debt: every
/// withdrawal failed with `AccountBankrupt` forever.
#[test]
fn finding_the_bankrupt_flag_clears_once_the_debt_is_repaid() {
    let Bankrupt { mut m, mut liquidatee, .. } = bankrupt_account();
    let (usdc, sol) = (m.usdc, m.sol);
    liquidatee.tokens[0] =
        m.chain.create_token_account(&usdc.mint, &liquidatee.keypair.pubkey(), DEBT_LEFT);
    liquidatee.tokens[1] =
        m.chain.create_token_account(&sol.mint, &liquidatee.keypair.pubkey(), 1_000_000_000);
    m.deposit(&liquidatee, &sol, 1_000_000_000).expect_ok("deposit SOL");
    // While the debt is there, the flag holds.
    m.assert_rejected(&liquidatee, MarginError::AccountBankrupt, |m| {
        m.withdraw(&liquidatee, &sol, 1)
    });
    m.repay(&liquidatee, &usdc, DEBT_LEFT).expect_ok("repay everything");
    let account = m.margin_account(&liquidatee);
    assert_eq!((account.bankrupt, account.being_liquidated), (0, 0));
    m.withdraw(&liquidatee, &sol, 1_000_000_000).expect_ok("withdraw after repaying");
    m.assert_conservation();
}

/// Finding 2. A flagged account whose collateral came back (here: a new deposit, then a price
/// fall) was neither liquidatable (`AccountBankrupt`) nor resolvable (`NotBankrupt`): its bad
/// debt could only grow. Liquidation now judges bankruptcy at current prices.
#[test]
fn finding_a_flagged_account_with_new_collateral_can_be_liquidated() {
    let Bankrupt { mut m, mut liquidatee, liquidator, .. } = bankrupt_account();
    let (usdc, sol) = (m.usdc, m.sol);
    liquidatee.tokens[1] =
        m.chain.create_token_account(&sol.mint, &liquidatee.keypair.pubkey(), 10_000_000_000);
    m.deposit(&liquidatee, &sol, 10_000_000_000).expect_ok("deposit 10 SOL");
    let now = m.now();
    m.set_price(&sol, Quote { price: 30, conf: 0, exponent: 0, publish_time: now });
    assert!(m.health(&liquidatee).0.maint < 0);
    m.assert_rejected(&liquidatee, MarginError::NotBankrupt, |m| {
        m.resolve_bankruptcy(&liquidatee, &usdc)
    });
    let executed =
        m.liquidate(&liquidator, &liquidatee, &usdc, &sol, u64::MAX).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    assert!(event.maint_health_after > event.maint_health_before);
    m.assert_conservation();
}

/// Finding 3. An oracle exponent near i32::MAX or i32::MIN overflowed `exponent + 6 − decimals`
/// and panicked the program (found by the instruction fuzzer's oracle cases).
#[test]
fn finding_extreme_oracle_exponents_fail_cleanly() {
    let (mut m, user) = market_with_borrower();
    let sol = m.sol;
    let now = m.now();
    for exponent in [i32::MAX, i32::MIN, i32::MAX - 3] {
        m.set_price(&sol, Quote { price: 1, conf: 0, exponent, publish_time: now });
        m.assert_rejected(&user, MarginError::MathOverflow, |m| m.withdraw(&user, &sol, 1));
    }
}

/// Finding 4. `MintCloseAuthority` was on the Token-2022 allow-list: a mint closed at zero supply
/// can be re-created at the same address with a transfer fee, a hook or a permanent delegate,
/// and a new mint authority, under a bank that trusts the address.
#[test]
fn finding_token_2022_mints_with_a_close_authority_are_rejected() {
    use anchor_spl::token_2022::spl_token_2022::extension::mint_close_authority::MintCloseAuthority;
    let mut m = Market::new();
    let user = m.user([0, 0, 0]);
    let admin = m.admin.pubkey();
    let mint = m.token_2022_mint_with::<MintCloseAuthority>(|extension| {
        extension.close_authority = Some(admin).try_into().unwrap();
    });
    m.assert_rejected_token_2022_mint(&user, mint);
}

// ================================================================ self-liquidation

/// An owner may liquidate one of its accounts with another (only the same account is refused):
/// it gains nothing, because the liquidation fee comes out of its own liquidatee and the
/// insurance fee leaves both.
#[test]
fn self_liquidation_through_a_second_account_gains_nothing() {
    let (mut m, liquidatee, _) = one_asset_one_liability(900_000_000);
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let owner = liquidatee.keypair.insecure_clone();
    let (ix, second) = ix::create_account(m.group, owner.pubkey(), owner.pubkey(), 1);
    m.chain.send(&[ix], &[&owner]).expect_ok("second account");
    let btc_token = m.chain.create_token_account(&btc.mint, &owner.pubkey(), 100_000_000);
    let second_user = User {
        keypair: owner.insecure_clone(),
        account: second,
        tokens: vec![liquidatee.tokens[0], liquidatee.tokens[1], btc_token],
    };
    m.deposit(&second_user, &btc, 100_000_000).expect_ok("collateral");
    let now = m.now();
    m.set_price(&sol, sol_at_93_75(now));
    let value = |m: &Market| -> i128 {
        let (u, s, b) = (m.bank(&usdc), m.bank(&sol), m.bank(&btc));
        [liquidatee.account, second]
            .iter()
            .map(|a| {
                let acc: MarginAccount = m.chain.load(a).unwrap();
                let sol_value =
                    positions::deposit_native(&acc, &s).unwrap() as i128 * 9_375 / 100_000;
                sol_value + positions::deposit_native(&acc, &b).unwrap() as i128 * 1_000
                    - positions::borrow_native(&acc, &u).unwrap() as i128
            })
            .sum()
    };
    let before = value(&m);
    m.liquidate(&second_user, &liquidatee, &usdc, &sol, 100_000_000).expect_ok("self-liquidate");
    let after = value(&m);
    assert!(after < before, "the owner's two accounts together lost the insurance fee");
    assert!(before - after <= 1_100_000, "lost {}", before - after);
}

// ================================================================ size-aware weight, sandwiching

/// A $1 stable bank whose init weight scales down above $100,000 of deposits.
fn scaled_bank(m: &mut Market) -> ix::BankRef {
    let weights = [9_000, 9_500, 10_500, 11_000];
    let bank = m.add_bank(6, OracleKind::PythPull, weights, (1, 0));
    let mut config = bank_config(OracleKind::PythPull, bank.index, weights);
    config.deposit_weight_scale_start_quote = 100_000_000_000;
    let ix = ix::configure_bank(m.group, m.admin.pubkey(), bank.address, bank.oracle, config);
    m.send_as_admin(&[ix]).expect_ok("scale");
    bank
}

/// A whale's deposit shrinks everyone's init weight in the bank, but not the maint weight: it
/// cannot push anyone into liquidation (no deposit-liquidate-withdraw sandwich).
#[test]
fn a_whale_deposit_cannot_make_anyone_liquidatable() {
    let mut m = Market::new();
    m.with_liquidity();
    let stable = scaled_bank(&mut m);
    let usdc = m.usdc;
    let mut victim = m.user([0, 0, 0]);
    m.fund(&mut victim, 50_000_000_000);
    m.deposit(&victim, &stable, 50_000_000_000).expect_ok("$50,000");
    m.borrow(&victim, &usdc, 40_000_000_000).expect_ok("borrow $40,000");
    let before = m.health(&victim).0;
    let mut whale = m.user([0, 0, 0]);
    m.fund(&mut whale, 10_000_000_000_000);
    m.deposit(&whale, &stable, 10_000_000_000_000).expect_ok("$10M");
    let after = m.health(&victim).0;
    assert_eq!(after.maint, before.maint, "maint weights are not scaled");
    assert!(
        after.init < 0 && before.init > 0,
        "init weights are: {} -> {}",
        before.init,
        after.init
    );
    let liquidator = m.user([0, 0, 100_000_000]);
    let btc = m.btc;
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator");
    m.assert_rejected(&victim, MarginError::NotLiquidatable, |m| {
        m.liquidate(&liquidator, &victim, &usdc, &stable, u64::MAX)
    });
}

/// A whale's own collateral counts for less past the threshold: it cannot borrow what its
/// unscaled init weight would allow.
#[test]
fn size_aware_init_weight_limits_whale_borrowing() {
    let mut m = Market::new();
    m.with_liquidity();
    let stable = scaled_bank(&mut m);
    let usdc = m.usdc;
    let mut whale = m.user([0, 0, 0]);
    m.fund(&mut whale, 10_000_000_000_000);
    m.deposit(&whale, &stable, 10_000_000_000_000).expect_ok("$10M");
    // Unscaled: $10M × 0.9 = $9M of init collateral. Scaled by 100k / 10M: $90,000.
    m.assert_rejected(&whale, MarginError::InitHealthNegative, |m| {
        m.borrow(&whale, &usdc, 100_000_000_000)
    });
    m.borrow(&whale, &usdc, 80_000_000_000).expect_ok("within the scaled weight");
}

// ================================================================ rounding drains

/// After a year of interest (indices 1.1 and ~1.08), 200 rounds of the smallest deposit,
/// withdrawal, borrow and repayment never leave the user ahead: sub-share amounts are refused,
/// every rounding goes to the vault.
#[test]
fn many_tiny_operations_never_profit() {
    let mut m = Market::new();
    let lender = m.user([2_000_000_000, 0, 0]);
    let user = m.user([1_000_000, 10_000_000_000, 0]);
    let (usdc, sol) = (m.usdc, m.sol);
    m.deposit(&lender, &usdc, 1_000_000_000).expect_ok("lend");
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("collateral");
    m.borrow(&user, &usdc, 800_000_000).expect_ok("80% utilization");
    m.chain.warp_seconds(365 * 24 * 3600);
    m.refresh_prices();
    m.deposit(&lender, &usdc, 1_000_000).expect_ok("accrue");
    let bank = m.bank(&usdc);
    assert!(bank.deposit_index() > ONE_Q64 && bank.borrow_index() > ONE_Q64);
    // One native unit is worth less than a share on both sides: refused, not donated.
    m.assert_rejected(&lender, MarginError::AmountTooSmall, |m| m.deposit(&lender, &usdc, 1));
    m.assert_rejected(&user, MarginError::AmountTooSmall, |m| m.repay(&user, &usdc, 1));

    let wallet = |m: &Market| m.chain.token_balance(&user.tokens[0]) as i128;
    let debt = |m: &Market| {
        positions::borrow_native(&m.margin_account(&user), &m.bank(&usdc)).unwrap() as i128
    };
    let start = wallet(&m) - debt(&m);
    let solvent = |m: &Market| {
        let (vault, claims) = m.vault_and_claims(&usdc);
        assert!(vault as i128 >= claims, "vault {vault} < claims {claims}");
    };
    for _ in 0..200 {
        m.borrow(&user, &usdc, 1).expect_ok("borrow 1");
        m.repay(&user, &usdc, 2).expect_ok("repay 2");
        solvent(&m);
    }
    assert!(wallet(&m) - debt(&m) <= start, "the borrower came out ahead");
    let lender_start = m.chain.token_balance(&lender.tokens[0]) as i128
        + positions::deposit_native(&m.margin_account(&lender), &m.bank(&usdc)).unwrap() as i128;
    for _ in 0..200 {
        m.deposit(&lender, &usdc, 2).expect_ok("deposit 2");
        m.withdraw(&lender, &usdc, 1).expect_ok("withdraw 1");
        solvent(&m);
    }
    let lender_end = m.chain.token_balance(&lender.tokens[0]) as i128
        + positions::deposit_native(&m.margin_account(&lender), &m.bank(&usdc)).unwrap() as i128;
    assert!(lender_end <= lender_start, "the depositor came out ahead");
    // The vault kept the rounding: at most a couple of units per operation.
    let (vault, claims) = m.vault_and_claims(&usdc);
    assert!(vault as i128 - claims <= 2 * 800, "surplus {}", vault as i128 - claims);
}

// ================================================================ interest over decades

const YEAR: i64 = 365 * 24 * 3600;

/// A century at 10% APR, touched once a year: the borrow index compounds to about
/// 1.1^100 = 13,780 without overflow, and the vault still covers every claim. (On the sandbox's
/// curve utilization drifts to 100% as unpaid interest piles up, and 100% APR for a century is
/// the next test's case.)
#[test]
fn a_century_of_interest_does_not_overflow() {
    let mut m = Market::new();
    let usdc = m.usdc;
    let mut config = bank_config(OracleKind::PythPull, usdc.index, [9_500, 9_800, 10_200, 10_500]);
    (config.min_rate_bps, config.optimal_rate_bps, config.max_rate_bps) = (1_000, 1_000, 1_000);
    let ix = ix::configure_bank(m.group, m.admin.pubkey(), usdc.address, usdc.oracle, config);
    m.send_as_admin(&[ix]).expect_ok("a flat 10% APR");
    let lender = m.user([1_000_000_000, 0, 0]);
    let user = m.user([0, 10_000_000_000, 0]);
    let bystander = m.user([1_000_000_000, 0, 0]);
    let sol = m.sol;
    m.deposit(&lender, &usdc, 1_000_000_000).expect_ok("lend");
    m.deposit(&user, &sol, 10_000_000_000).expect_ok("collateral");
    m.borrow(&user, &usdc, 800_000_000).expect_ok("borrow");
    for _ in 0..100 {
        m.chain.warp_seconds(YEAR);
        m.deposit(&bystander, &usdc, 1_000_000).expect_ok("yearly touch");
    }
    let bank = m.bank(&usdc);
    let index = bank.borrow_index() >> 64;
    assert!((13_000..14_000).contains(&index), "index {index}");
    // The vault covers every claim; what it keeps beyond them is rounding, a few index units
    // per touch.
    let (vault, claims) = m.vault_and_claims(&usdc);
    assert!(vault as i128 >= claims, "vault {vault} < claims {claims}");
    assert!(
        vault as i128 - claims <= 8 * 101 * (index as i128 + 2),
        "surplus {}",
        vault as i128 - claims
    );
}

// A debt that outgrows u64 is capped, never an error: `pause_overflow_info::l7_interest_overflow_never_bricks_a_bank`.

// ================================================================ dust accounts

/// Liquidating an account just above the dust threshold still pays the liquidator more than
/// a transaction costs (5% of $0.95 = $0.0475, against a 5,000-lamport fee of ~$0.001).
#[test]
fn liquidating_an_account_just_above_dust_pays_the_liquidator() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol, btc) = (m.usdc, m.sol, m.btc);
    let small = m.user([0, 9_600_000, 0]);
    let liquidator = m.user([0, 0, 100_000_000]);
    m.deposit(&liquidator, &btc, 100_000_000).expect_ok("liquidator");
    m.deposit(&small, &sol, 9_600_000).expect_ok("$1.20");
    m.borrow(&small, &usdc, 900_000).expect_ok("$0.90");
    let now = m.now();
    m.set_price(&sol, quote_dollars(100, 0, now)); // $0.96 of collateral, maint < 0
    let executed = m.liquidate(&liquidator, &small, &usdc, &sol, u64::MAX).expect_ok("liquidate");
    let event = &executed.events::<Liquidation>()[0];
    // The liquidator's gain: the collateral's value minus the debt it took over.
    let gain = event.asset_to_liquidator as i128 / 10 - event.liab_amount as i128;
    assert!(gain >= 5_000, "gain {gain} micro-USD");
}

/// An account too small to liquidate profitably and insolvent is written off in one
/// instruction by anyone, at a few thousand CU; the insurance fund pays.
#[test]
fn a_dust_account_is_written_off_by_anyone() {
    let mut m = Market::new();
    m.with_liquidity();
    let (usdc, sol) = (m.usdc, m.sol);
    let dust = m.user([0, 1_000_000, 0]);
    m.deposit(&dust, &sol, 1_000_000).expect_ok("$0.125");
    m.borrow(&dust, &usdc, 90_000).expect_ok("$0.09");
    let now = m.now();
    m.set_price(&sol, quote_dollars(10, 0, now)); // $0.01 of collateral
    m.fund_insurance(&usdc, 1_000_000).expect_ok("insurance");
    let executed = m.resolve_bankruptcy(&dust, &usdc).expect_ok("write off");
    let event = &executed.events::<BankruptcyResolved>()[0];
    assert_eq!((event.debt, event.from_insurance, event.socialized), (90_000, 90_000, 0));
    assert!(executed.compute_units < 10_000, "{} CU", executed.compute_units);
    m.assert_conservation();
}

// ================================================================ oracles: cherry-picking

#[test]
fn a_cherry_picked_legacy_price_account_is_rejected() {
    let (mut m, user) = market_with_borrower();
    let (btc, sol) = (m.btc, m.sol);
    m.deposit(&user, &btc, 1_000_000).expect_ok("BTC deposit");
    let chosen = m.chain.new_pubkey();
    let data = pyth::legacy_price_account(quote_dollars(1_000_000, 0, m.now()), true);
    let legacy = m.legacy_program;
    m.chain.set_account(chosen, legacy, data);
    let mut health = m.health_after(&user, &sol, Movement::Withdraw, 1);
    let slot = health.iter().position(|a| a.pubkey == btc.oracle).unwrap();
    health[slot].pubkey = chosen;
    let ix = ix::withdraw(&m.transfer(&user, &sol), 1, health);
    m.assert_rejected(&user, MarginError::OracleAccountMismatch, |m| send(m, ix, &user));
}

#[test]
fn a_liquidation_cannot_use_a_cherry_picked_price() {
    let (mut m, liquidatee, liquidator) = one_asset_one_liability(900_000_000);
    let (usdc, sol) = (m.usdc, m.sol);
    // The real price keeps the account healthy; a chosen update would make it liquidatable.
    let chosen = m.chain.new_pubkey();
    let data = pyth::price_update_v2(feed_id(sol.index), sol_at_62_50(m.now()), true);
    let receiver = m.receiver_program;
    m.chain.set_account(chosen, receiver, data);
    let mut ix = m.liquidate_ix(&liquidator, &liquidatee, &usdc, &sol, u64::MAX);
    ix.accounts.iter_mut().filter(|a| a.pubkey == sol.oracle).for_each(|a| a.pubkey = chosen);
    m.assert_rejected(&liquidatee, MarginError::OracleAccountMismatch, |m| {
        send(m, ix, &liquidator)
    });
}
