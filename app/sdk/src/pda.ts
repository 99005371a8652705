/**
 * Program-derived addresses. The seeds come from the IDL's constants (`GROUP_SEED`, ...), which
 * the program declares once in `constants.rs`.
 */
import { PublicKey } from "@solana/web3.js";

import { PROGRAM_ID, idlBytesConstant } from "./idl";

export const GROUP_SEED: Buffer = idlBytesConstant("GROUP_SEED");
export const BANK_SEED: Buffer = idlBytesConstant("BANK_SEED");
export const VAULT_SEED: Buffer = idlBytesConstant("VAULT_SEED");
export const ACCOUNT_SEED: Buffer = idlBytesConstant("ACCOUNT_SEED");
export const PERP_MARKET_SEED: Buffer = idlBytesConstant("PERP_MARKET_SEED");

function u32le(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`not a u32: ${value}`);
  }
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function u16le(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`not a u16: ${value}`);
  }
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

/** `Group`: `["group", admin, group_num u32 LE]`. */
export function groupAddress(admin: PublicKey, groupNum: number, programId = PROGRAM_ID): PublicKey {
  return PublicKey.findProgramAddressSync([GROUP_SEED, admin.toBuffer(), u32le(groupNum)], programId)[0];
}

/** `Bank`: `["bank", group, mint]` (one bank per mint per group). */
export function bankAddress(group: PublicKey, mint: PublicKey, programId = PROGRAM_ID): PublicKey {
  return PublicKey.findProgramAddressSync([BANK_SEED, group.toBuffer(), mint.toBuffer()], programId)[0];
}

/** The bank's vault token account: `["vault", bank]`, authority = the bank. */
export function vaultAddress(bank: PublicKey, programId = PROGRAM_ID): PublicKey {
  return PublicKey.findProgramAddressSync([VAULT_SEED, bank.toBuffer()], programId)[0];
}

/** `MarginAccount`: `["account", group, owner, account_num u32 LE]`. */
export function marginAccountAddress(
  group: PublicKey,
  owner: PublicKey,
  accountNum: number,
  programId = PROGRAM_ID,
): PublicKey {
  return PublicKey.findProgramAddressSync(
    [ACCOUNT_SEED, group.toBuffer(), owner.toBuffer(), u32le(accountNum)],
    programId,
  )[0];
}

/** `PerpMarket`: `["perp_market", group, market_index u16 LE]` (indices follow creation order). */
export function perpMarketAddress(group: PublicKey, marketIndex: number, programId = PROGRAM_ID): PublicKey {
  return PublicKey.findProgramAddressSync([PERP_MARKET_SEED, group.toBuffer(), u16le(marketIndex)], programId)[0];
}
