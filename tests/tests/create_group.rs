//! `create_group` on the real SBF build.

use cross_margin::events::GroupCreated;
use cross_margin::state::Group;
use cross_margin_tests::*;

#[test]
fn create_group_stores_admin_and_oracle_programs() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);

    let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 7, receiver, legacy);
    let executed = chain.send(&[ix], &[&admin]).expect_ok("create_group");
    let bump = Group::address(&admin.pubkey(), 7).1;
    assert_cu("create_group", &executed, budget::with_bump_search(budget::CREATE_GROUP, bump));

    let stored: Group = chain.load(&group).expect("group account decodes as Group");
    assert_eq!(stored.admin, admin.pubkey());
    assert_eq!(stored.pyth_receiver_program, receiver);
    assert_eq!(stored.pyth_legacy_program, legacy);
    assert_eq!(stored.group_num, 7);
    assert_eq!(stored.bank_count, 0);
    assert_eq!(stored.version, cross_margin::constants::GROUP_VERSION);
    assert_eq!(stored.bump, Group::address(&admin.pubkey(), 7).1);
    assert!(!stored.is_paused() && !stored.is_reduce_only());
    assert_eq!((stored.reserved, stored.live_since_ts, stored.unpaused_ts), ([0u8; 62], 0, 0));
    assert_eq!(stored.perp_market_count, 0);
    // Created in setup: no delay, no transfer, no emergency admin, nothing queued.
    assert!(!stored.is_live() && !stored.pending.is_queued());
    assert_eq!(
        (stored.pending_admin, stored.emergency_admin),
        (Pubkey::default(), Pubkey::default())
    );
    assert_eq!(
        stored.liquidation_end_buffer_bps,
        cross_margin::constants::DEFAULT_LIQUIDATION_END_BUFFER_BPS
    );
    assert_eq!(
        stored.bankruptcy_dust_quote,
        cross_margin::constants::DEFAULT_BANKRUPTCY_DUST_QUOTE
    );

    let account = chain.account(&group).unwrap();
    assert_eq!(account.owner, cross_margin::ID);
    assert_eq!(account.data.len(), 8 + Group::SIZE);
    assert_eq!(account.lamports, chain.svm.minimum_balance_for_rent_exemption(8 + Group::SIZE));

    let events = executed.events::<GroupCreated>();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!((event.group, event.admin, event.group_num), (group, admin.pubkey(), 7));
    assert_eq!((event.pyth_receiver_program, event.pyth_legacy_program), (receiver, legacy));
}

#[test]
fn one_admin_can_run_several_groups() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let mut groups = Vec::new();
    for group_num in [0, 1, u32::MAX] {
        let (ix, group) =
            ix::create_group(admin.pubkey(), chain.payer.pubkey(), group_num, receiver, legacy);
        chain.send(&[ix], &[&admin]).expect_ok("create_group");
        assert_eq!(chain.load::<Group>(&group).unwrap().group_num, group_num);
        groups.push(group);
    }
    groups.dedup();
    assert_eq!(groups.len(), 3);
}

#[test]
fn default_oracle_program_id_is_rejected() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    for (r, l) in [(Pubkey::default(), legacy), (receiver, Pubkey::default())] {
        let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, r, l);
        let before = Snapshot::take(&chain, &[group, admin.pubkey()]);
        chain.send(&[ix], &[&admin]).expect_margin_error(MarginError::OracleProgramIdIsDefault);
        before.assert_unchanged(&chain);
        assert!(chain.account(&group).is_none());
    }
}

#[test]
fn identical_oracle_program_ids_are_rejected() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, _) = oracle_program_ids(&mut chain);
    let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, receiver, receiver);
    let before = Snapshot::take(&chain, &[group, admin.pubkey()]);
    chain.send(&[ix], &[&admin]).expect_margin_error(MarginError::OracleProgramIdsNotDistinct);
    before.assert_unchanged(&chain);
    assert!(chain.account(&group).is_none());
}

#[test]
fn admin_must_sign() {
    let mut chain = chain();
    let admin = chain.new_pubkey();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let (mut ix, group) = ix::create_group(admin, chain.payer.pubkey(), 0, receiver, legacy);
    // Drop the signer flag so the transaction can be built without the admin's key.
    ix.accounts.iter_mut().filter(|m| m.pubkey == admin).for_each(|m| m.is_signer = false);
    let before = Snapshot::take(&chain, &[group, admin]);
    chain.send(&[ix], &[]).expect_anchor_error(anchor_lang::error::ErrorCode::AccountNotSigner);
    before.assert_unchanged(&chain);
    assert!(chain.account(&group).is_none());
}

#[test]
fn group_address_must_be_the_canonical_pda() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let (mut ix, _) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, receiver, legacy);
    // Someone else's group address (another admin's PDA) in place of the admin's own.
    let (foreign, _) = Group::address(&chain.new_pubkey(), 0);
    ix.accounts[0].pubkey = foreign;
    let own = Group::address(&admin.pubkey(), 0).0;
    let before = Snapshot::take(&chain, &[foreign, own, admin.pubkey()]);
    chain
        .send(&[ix], &[&admin])
        .expect_anchor_error(anchor_lang::error::ErrorCode::ConstraintSeeds);
    before.assert_unchanged(&chain);
    assert!(chain.account(&foreign).is_none());
}

#[test]
fn a_group_cannot_be_created_twice() {
    let mut chain = chain();
    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 3, receiver, legacy);
    chain.send(&[ix], &[&admin]).expect_ok("first create_group");

    // Same seeds, different oracle ids: must not overwrite the existing group.
    let (other_receiver, other_legacy) = oracle_program_ids(&mut chain);
    let (again, _) =
        ix::create_group(admin.pubkey(), chain.payer.pubkey(), 3, other_receiver, other_legacy);
    let before = Snapshot::take(&chain, &[group]);
    // The system program refuses to create an account that already exists (SystemError 0).
    chain.send(&[again], &[&admin]).expect_custom_code(0);
    before.assert_unchanged(&chain);
}
