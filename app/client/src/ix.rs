//! Instruction builders. Account lists and argument encoding come from the program crate
//! (`cross_margin::accounts::*` and `cross_margin::instruction::*`), so they cannot drift from it.

use anchor_lang::prelude::Pubkey;
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use solana_instruction::Instruction;

use cross_margin::state::Group;

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: cross_margin::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

/// `create_group`: returns the instruction and the group address it creates.
pub fn create_group(
    admin: Pubkey,
    payer: Pubkey,
    group_num: u32,
    pyth_receiver_program: Pubkey,
    pyth_legacy_program: Pubkey,
) -> (Instruction, Pubkey) {
    let (group, _) = Group::address(&admin, group_num);
    let ix = build(
        cross_margin::accounts::CreateGroup {
            group,
            admin,
            payer,
            system_program: system_program::ID,
        },
        cross_margin::instruction::CreateGroup {
            group_num,
            pyth_receiver_program,
            pyth_legacy_program,
        },
    );
    (ix, group)
}
