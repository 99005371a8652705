//! Runs every instruction once on the real SBF build and prints the CU table (`scripts/test.sh`
//! shows it; docs/CU.md records it). Each row is also checked against its budget.

use cross_margin::state::Group;
use cross_margin_tests::*;

struct Row {
    instruction: &'static str,
    compute_units: u64,
    budget: u64,
    note: String,
}

#[test]
fn cu_table() {
    let mut chain = chain();
    let mut rows = Vec::new();

    let admin = chain.funded_keypair(1_000_000_000).unwrap();
    let (receiver, legacy) = oracle_program_ids(&mut chain);
    let (ix, group) = ix::create_group(admin.pubkey(), chain.payer.pubkey(), 0, receiver, legacy);
    let executed = chain.send(&[ix], &[&admin]).expect_ok("create_group");
    let bump = chain.load::<Group>(&group).unwrap().bump;
    rows.push(Row {
        instruction: "create_group",
        compute_units: executed.compute_units,
        budget: budget::with_bump_search(budget::CREATE_GROUP, bump),
        note: format!("canonical bump {bump}: {} extra PDA attempts", 255 - bump),
    });

    println!("CU table (upstream SBF route, LiteSVM 0.18)");
    println!("| instruction | CU | budget | note |");
    println!("|---|---:|---:|---|");
    for row in &rows {
        println!("| {} | {} | {} | {} |", row.instruction, row.compute_units, row.budget, row.note);
    }
    for row in &rows {
        assert!(
            row.compute_units <= row.budget,
            "{} used {} CU, budget {}",
            row.instruction,
            row.compute_units,
            row.budget
        );
    }
}
