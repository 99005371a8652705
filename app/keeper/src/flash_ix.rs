//! TEMPORARY: the flash-loan instruction builders as `cross_margin_client::ix` will have them
//! (issue 18, landing on main); replaced by the client's once merged.

use anchor_lang::prelude::AccountMeta;
use cross_margin_client::{Instruction, Pubkey};

const INSTRUCTIONS_SYSVAR: Pubkey =
    Pubkey::from_str_const("Sysvar1nstructions1111111111111111111111111");

pub fn flash_loan_begin(account: Pubkey, owner: Pubkey) -> Instruction {
    Instruction {
        program_id: cross_margin::ID,
        accounts: vec![
            AccountMeta::new(account, false),
            AccountMeta::new_readonly(owner, true),
            AccountMeta::new_readonly(INSTRUCTIONS_SYSVAR, false),
        ],
        data: vec![81, 78, 224, 60, 244, 56, 90, 239],
    }
}

pub fn flash_loan_end(
    group: Pubkey,
    account: Pubkey,
    owner: Pubkey,
    health: Vec<AccountMeta>,
) -> Instruction {
    let mut accounts = vec![
        AccountMeta::new_readonly(group, false),
        AccountMeta::new(account, false),
        AccountMeta::new_readonly(owner, true),
    ];
    accounts.extend(health);
    Instruction { program_id: cross_margin::ID, accounts, data: vec![178, 170, 2, 78, 240, 23, 190, 178] }
}
