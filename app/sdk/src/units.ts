/**
 * Display helpers for a frontend: Q64.64 numbers (bank share indices, perp prices and funding)
 * and native token amounts as exact decimal strings, decimal strings back to native units, and
 * the associated token account a wallet holds a mint in.
 */
import { PublicKey, SystemProgram, TransactionInstruction } from "@solana/web3.js";

import { ONE_Q64, q64FromLeBytes } from "./fixed";

export const TOKEN_PROGRAM_ID = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
export const TOKEN_2022_PROGRAM_ID = new PublicKey("TokenzQdBNbLqP5VEhdkAS6EPFLC7Wj5w6ikk7p3cA9");
export const ASSOCIATED_TOKEN_PROGRAM_ID = new PublicKey("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

/** A Q64.64 number, signed or not, from a `bigint`, or from the `number[16]` / `Uint8Array`
 * little-endian bytes an IDL decoder gives. */
export function q64(value: bigint | ArrayLike<number>): bigint {
  return typeof value === "bigint" ? value : q64FromLeBytes(value);
}

/** A Q64.64 number as a decimal string with `decimals` digits after the point, rounded toward
 * zero (exact: no float). */
export function q64ToDecimalString(value: bigint | ArrayLike<number>, decimals = 6): string {
  const v = q64(value);
  const negative = v < 0n;
  const magnitude = negative ? -v : v;
  const scaled = (magnitude * 10n ** BigInt(decimals)) / ONE_Q64;
  return (negative && scaled !== 0n ? "-" : "") + nativeToUi(scaled, decimals);
}

/** A decimal number as Q64.64 (rounded toward zero), e.g. a limit price typed by a user. */
export function q64FromDecimalString(text: string): bigint {
  const [whole, fraction = ""] = parseDecimal(text);
  const scale = 10n ** BigInt(fraction.length);
  const magnitude = ((BigInt(whole || "0") * scale + BigInt(fraction || "0")) << 64n) / scale;
  return text.trim().startsWith("-") ? -magnitude : magnitude;
}

function parseDecimal(text: string): [string, string] {
  const match = /^\s*-?(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
  return [match[1] ?? "", match[2] ?? ""];
}

/** Native units (e.g. lamports) as a decimal string of whole tokens, trailing zeros dropped:
 * `nativeToUi(1_500_000n, 6)` is "1.5". */
export function nativeToUi(amount: bigint, decimals: number): string {
  const negative = amount < 0n;
  const magnitude = negative ? -amount : amount;
  const scale = 10n ** BigInt(decimals);
  const fraction = (magnitude % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${magnitude / scale}${fraction ? `.${fraction}` : ""}`;
}

/** A decimal string of whole tokens as native units; refuses more digits than `decimals`
 * (`uiToNative("1.5", 6)` is 1,500,000n). */
export function uiToNative(text: string, decimals: number): bigint {
  const [whole, fraction] = parseDecimal(text);
  if (fraction.length > decimals) throw new RangeError(`${text} has more than ${decimals} decimals`);
  const value = BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  return text.trim().startsWith("-") ? -value : value;
}

/** Micro-USD (the health view's unit) as dollars, e.g. "-12.5". */
export function microUsdToUi(microUsd: bigint): string {
  return nativeToUi(microUsd, 6);
}

/** The associated token account of `owner` for `mint` (SPL Token or Token-2022). */
export function associatedTokenAddress(owner: PublicKey, mint: PublicKey, tokenProgram: PublicKey = TOKEN_PROGRAM_ID): PublicKey {
  return PublicKey.findProgramAddressSync([owner.toBuffer(), tokenProgram.toBuffer(), mint.toBuffer()], ASSOCIATED_TOKEN_PROGRAM_ID)[0];
}

/** The associated token program's `CreateIdempotent`: creates `owner`'s associated token account
 * for `mint` if it does not exist (`payer` signs and pays the rent), and does nothing if it does.
 * Put it before a withdraw or borrow into a token account the wallet may not have yet. */
export function createAssociatedTokenAccountIdempotentIx(payer: PublicKey, owner: PublicKey, mint: PublicKey, tokenProgram: PublicKey = TOKEN_PROGRAM_ID): TransactionInstruction {
  return new TransactionInstruction({
    programId: ASSOCIATED_TOKEN_PROGRAM_ID,
    keys: [
      { pubkey: payer, isSigner: true, isWritable: true },
      { pubkey: associatedTokenAddress(owner, mint, tokenProgram), isSigner: false, isWritable: true },
      { pubkey: owner, isSigner: false, isWritable: false },
      { pubkey: mint, isSigner: false, isWritable: false },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
      { pubkey: tokenProgram, isSigner: false, isWritable: false },
    ],
    data: Buffer.from([1]),
  });
}
