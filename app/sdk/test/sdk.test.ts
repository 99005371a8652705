/**
 * The SDK's pure parts: seeds and errors read from the IDL, error decoding from every shape a
 * failure comes in, and the Pyth byte layouts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import { LangErrorCode } from "@anchor-lang/core";
import { PublicKey, SendTransactionError } from "@solana/web3.js";

import {
  ACCOUNT_SEED,
  BANK_SEED,
  decodeError,
  decodeLegacyPriceAccount,
  decodePriceUpdateV2,
  encodeLegacyPriceAccount,
  encodePriceUpdateV2,
  errorCode,
  GROUP_SEED,
  groupAddress,
  IDL,
  LEGACY_PRICE_ACCOUNT_LEN,
  LegacyPriceStatus,
  MARGIN_ERRORS,
  marginAccountAddress,
  PRICE_UPDATE_V2_DISCRIMINATOR,
  PRICE_UPDATE_V2_LEN,
  PROGRAM_ID,
  q64FromLeBytes,
  VAULT_SEED,
} from "../src";

const TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";

describe("IDL-derived constants", () => {
  it("seeds and PDAs follow constants.rs", () => {
    assert.deepEqual([GROUP_SEED, BANK_SEED, VAULT_SEED, ACCOUNT_SEED].map((s) => s.toString()), ["group", "bank", "vault", "account"]);
    assert.equal(PROGRAM_ID.toBase58(), "EaGVDFkjhZXetL3A3VkfFCxg1zu6bcEvoaT6pPLw7Gob");
    const admin = new PublicKey(TOKEN_PROGRAM);
    const num = Buffer.from([7, 1, 0, 0]); // 263, little-endian u32
    assert.ok(groupAddress(admin, 263).equals(PublicKey.findProgramAddressSync([Buffer.from("group"), admin.toBuffer(), num], PROGRAM_ID)[0]));
    const group = groupAddress(admin, 0);
    assert.ok(
      marginAccountAddress(group, admin, 2).equals(
        PublicKey.findProgramAddressSync([Buffer.from("account"), group.toBuffer(), admin.toBuffer(), Buffer.from([2, 0, 0, 0])], PROGRAM_ID)[0],
      ),
    );
    assert.throws(() => groupAddress(admin, -1), RangeError);
  });

  it("names every program error with its code, from 6000 up", () => {
    const codes = [...MARGIN_ERRORS.keys()];
    assert.equal(codes[0], 6000);
    assert.deepEqual(codes, codes.map((_, i) => 6000 + i), "codes are contiguous");
    assert.equal(MARGIN_ERRORS.size, (IDL.errors ?? []).length);
    assert.equal(MARGIN_ERRORS.get(errorCode("InitHealthNegative"))?.message, "Init health would be negative");
    assert.equal(errorCode("OracleProgramIdIsDefault"), 6000);
  });

  it("reads Q64.64 numbers stored as 16 little-endian bytes", () => {
    const bytes = new Uint8Array(16);
    bytes[8] = 1; // 1.0
    bytes[7] = 0x80; // + 0.5
    assert.equal(q64FromLeBytes(bytes), (1n << 64n) + (1n << 63n));
  });
});

describe("decodeError", () => {
  const ours = PROGRAM_ID.toBase58();
  const code = errorCode("HealthBankMismatch");

  it("from a structured InstructionError, a message, or the logs alone", () => {
    assert.equal(decodeError({ InstructionError: [1, { Custom: code }] })?.name, "HealthBankMismatch");
    assert.equal(decodeError({ InstructionError: [1, { Custom: code }] })?.instructionIndex, 1);
    assert.equal(decodeError(new Error(`failed: custom program error: 0x${code.toString(16)}`))?.name, "HealthBankMismatch");
    const logs = [`Program ${ours} invoke [1]`, `Program ${ours} failed: custom program error: 0x${code.toString(16)}`];
    assert.equal(decodeError(undefined, logs)?.origin, "program");
  });

  it("from a web3.js SendTransactionError carrying the logs", () => {
    const logs = [
      `Program ${ours} invoke [1]`,
      `Program log: AnchorError occurred. Error Code: ZeroAmount. Error Number: ${errorCode("ZeroAmount")}. Error Message: Amount must be greater than zero.`,
      `Program ${ours} failed: custom program error: 0x${errorCode("ZeroAmount").toString(16)}`,
    ];
    const error = new SendTransactionError({ action: "send", signature: "", transactionMessage: "Transaction simulation failed", logs });
    assert.equal(decodeError(error)?.name, "ZeroAmount");
  });

  it("tells Anchor's framework errors and other programs' errors from the program's", () => {
    const hasOne = LangErrorCode.ConstraintHasOne;
    const anchorLogs = [`Program ${ours} invoke [1]`, `Program ${ours} failed: custom program error: 0x${hasOne.toString(16)}`];
    assert.deepEqual(
      [decodeError(undefined, anchorLogs)?.name, decodeError(undefined, anchorLogs)?.origin],
      ["ConstraintHasOne", "anchor"],
    );
    // SPL Token's InsufficientFunds (1) inside the program: the innermost failure is reported.
    const tokenLogs = [
      `Program ${ours} invoke [1]`,
      `Program ${TOKEN_PROGRAM} invoke [2]`,
      `Program ${TOKEN_PROGRAM} failed: custom program error: 0x1`,
      `Program ${ours} failed: custom program error: 0x1`,
    ];
    const token = decodeError(undefined, tokenLogs);
    assert.equal(token?.origin, "other");
    assert.equal(token?.program?.toBase58(), TOKEN_PROGRAM);
    assert.equal(token?.name, "Custom(1)");
    // The same number 6000+ from another program is not mistaken for one of ours.
    const foreign = decodeError(undefined, [`Program ${TOKEN_PROGRAM} failed: custom program error: 0x${code.toString(16)}`]);
    assert.equal(foreign?.origin, "other");
  });

  it("returns null when no program error is involved", () => {
    assert.equal(decodeError("BlockhashNotFound"), null);
    assert.equal(decodeError({ InstructionError: [0, "InvalidAccountData"] }), null);
    assert.equal(decodeError(undefined, []), null);
  });
});

describe("Pyth layouts", () => {
  it("PriceUpdateV2: the discriminator is sha256('account:PriceUpdateV2')[..8], and the account round-trips", () => {
    const digest = createHash("sha256").update("account:PriceUpdateV2").digest().subarray(0, 8);
    assert.deepEqual(Buffer.from(PRICE_UPDATE_V2_DISCRIMINATOR), digest);
    const feed = Buffer.alloc(32, 0xab);
    const quote = { price: 12_345_678n, conf: 910n, exponent: -8, publishTime: 1_800_000_000n };
    const full = encodePriceUpdateV2(feed, quote);
    assert.equal(full.length, PRICE_UPDATE_V2_LEN);
    assert.equal(full[40], 1, "verification level Full");
    assert.deepEqual(decodePriceUpdateV2(full), { fullyVerified: true, feedId: new Uint8Array(feed), quote });
    const partial = encodePriceUpdateV2(feed, quote, { fullyVerified: false });
    assert.deepEqual([partial[40], partial[41]], [0, 5], "Partial { num_signatures: 5 }");
    assert.deepEqual(decodePriceUpdateV2(partial).quote, quote);
    assert.equal(decodePriceUpdateV2(partial).fullyVerified, false);
    assert.throws(() => decodePriceUpdateV2(Buffer.alloc(134)), /not a PriceUpdateV2/);
  });

  it("legacy price account: pyth-sdk-solana's offsets", () => {
    const quote = { price: -5n, conf: 3n, exponent: -4, publishTime: 42n };
    const data = encodeLegacyPriceAccount(quote, LegacyPriceStatus.Halted);
    assert.equal(data.length, LEGACY_PRICE_ACCOUNT_LEN);
    assert.equal(data.readUInt32LE(0), 0xa1b2c3d4);
    assert.deepEqual(decodeLegacyPriceAccount(data), { quote, status: LegacyPriceStatus.Halted });
  });
});
