// A tiny client for a real solana-test-validator (scripts/localnet.sh). No SDK, no Anchor client:
// the instruction is assembled by hand from the committed IDL, so this checks the deployed program
// and the IDL independently of app/sdk.
//
//   node client.mjs wallet <keypair.json> [--airdrop SOL]   create the keypair if missing (64-byte
//                                                           JSON array), top it up from the faucet
//   node client.mjs create-group [--group-num N]            send create_group, read the Group back,
//                                                           print the CU the validator reports
//
// Environment: LOCALNET_URL or ANCHOR_PROVIDER_URL (default http://127.0.0.1:8899), ANCHOR_WALLET (default
// ~/.config/solana/id.json).
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SystemProgram,
  Transaction,
  TransactionInstruction,
  sendAndConfirmTransaction,
} from "@solana/web3.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// LOCALNET_URL (scripts/localnet.sh), else ANCHOR_PROVIDER_URL (set by `anchor test` / `anchor run`).
const URL = process.env.LOCALNET_URL ?? process.env.ANCHOR_PROVIDER_URL ?? "http://127.0.0.1:8899";
const WALLET = process.env.ANCHOR_WALLET ?? join(homedir(), ".config/solana/id.json");
const IDL = JSON.parse(readFileSync(join(ROOT, "app/idl/cross_margin.json"), "utf8"));
const PROGRAM_ID = new PublicKey(IDL.address);
// Pyth's mainnet program ids; create_group only requires two distinct, non-default keys.
const PYTH_RECEIVER = new PublicKey("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ");
const PYTH_LEGACY = new PublicKey("FsJ3A3u2vn5cTVofAjvy6y5kwABJAqYWpe4975bi2epH");

const connection = new Connection(URL, "confirmed");

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

function loadOrCreateKeypair(path) {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const kp = Keypair.generate();
    writeFileSync(path, JSON.stringify(Array.from(kp.secretKey)), { mode: 0o600 });
    console.error(`created keypair ${path}`);
    return kp;
  }
  return Keypair.fromSecretKey(Uint8Array.from(JSON.parse(readFileSync(path, "utf8"))));
}

async function wallet() {
  const path = process.argv[3] && !process.argv[3].startsWith("--") ? process.argv[3] : WALLET;
  const kp = loadOrCreateKeypair(path);
  const want = Number(arg("--airdrop", "0")) * LAMPORTS_PER_SOL;
  let balance = await connection.getBalance(kp.publicKey).catch(() => null);
  if (want > 0 && balance !== null && balance < want) {
    const lamports = want - balance;
    const sig = await connection.requestAirdrop(kp.publicKey, lamports);
    const { blockhash, lastValidBlockHeight } = await connection.getLatestBlockhash();
    await connection.confirmTransaction({ signature: sig, blockhash, lastValidBlockHeight });
    balance = await connection.getBalance(kp.publicKey);
    console.error(`airdropped ${lamports / LAMPORTS_PER_SOL} SOL; balance now ${balance / LAMPORTS_PER_SOL} SOL`);
  }
  console.log(kp.publicKey.toBase58());
}

function u32le(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function decodeGroup(data) {
  const disc = IDL.accounts.find((a) => a.name === "Group").discriminator;
  if (!data.subarray(0, 8).equals(Buffer.from(disc))) throw new Error("not a Group account (discriminator)");
  const d = data.subarray(8);
  return {
    admin: new PublicKey(d.subarray(0, 32)).toBase58(),
    pyth_receiver_program: new PublicKey(d.subarray(32, 64)).toBase58(),
    pyth_legacy_program: new PublicKey(d.subarray(64, 96)).toBase58(),
    group_num: d.readUInt32LE(96),
    bank_count: d.readUInt16LE(100),
    version: d[102],
    bump: d[103],
    paused: d[104],
    reduce_only: d[105],
    bankruptcy_dust_quote: d.readBigUInt64LE(112).toString(),
    liquidation_end_buffer_bps: d.readUInt32LE(120),
  };
}

async function createGroup() {
  const payer = loadOrCreateKeypair(WALLET);
  const admin = payer;
  const program = await connection.getAccountInfo(PROGRAM_ID);
  if (!program?.executable) throw new Error(`program ${PROGRAM_ID.toBase58()} is not deployed at ${URL}`);

  const pda = (n) =>
    PublicKey.findProgramAddressSync([Buffer.from("group"), admin.publicKey.toBuffer(), u32le(n)], PROGRAM_ID);
  // Without --group-num, take the first number this admin has not used yet (reruns on one ledger).
  let groupNum = arg("--group-num");
  if (groupNum === undefined) {
    groupNum = 0;
    while (await connection.getAccountInfo(pda(groupNum)[0])) groupNum++;
  }
  groupNum = Number(groupNum);
  const [group, bump] = pda(groupNum);

  const ix = IDL.instructions.find((i) => i.name === "create_group");
  const data = Buffer.concat([
    Buffer.from(ix.discriminator),
    u32le(groupNum),
    PYTH_RECEIVER.toBuffer(),
    PYTH_LEGACY.toBuffer(),
  ]);
  const keys = [
    { pubkey: group, isSigner: false, isWritable: true },
    { pubkey: admin.publicKey, isSigner: true, isWritable: false },
    { pubkey: payer.publicKey, isSigner: true, isWritable: true },
    { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
  ];
  // The account order must be the IDL's.
  const idlNames = ix.accounts.map((a) => a.name).join(",");
  if (idlNames !== "group,admin,payer,system_program") throw new Error(`IDL accounts changed: ${idlNames}`);

  const tx = new Transaction().add(new TransactionInstruction({ programId: PROGRAM_ID, keys, data }));
  const t0 = Date.now();
  const sig = await sendAndConfirmTransaction(connection, tx, [payer], { commitment: "confirmed" });
  const ms = Date.now() - t0;
  const info = await connection.getTransaction(sig, { commitment: "confirmed", maxSupportedTransactionVersion: 0 });
  const acc = await connection.getAccountInfo(group);
  if (!acc) throw new Error("group account not found after create_group");
  if (!acc.owner.equals(PROGRAM_ID)) throw new Error(`group owned by ${acc.owner.toBase58()}`);
  const g = decodeGroup(acc.data);
  const checks = [
    [g.admin, admin.publicKey.toBase58()],
    [g.pyth_receiver_program, PYTH_RECEIVER.toBase58()],
    [g.pyth_legacy_program, PYTH_LEGACY.toBase58()],
    [g.group_num, groupNum],
    [g.bump, bump],
    [g.bank_count, 0],
  ];
  for (const [got, want] of checks) if (got !== want) throw new Error(`group field: got ${got}, want ${want}`);

  console.log(
    JSON.stringify(
      {
        url: URL,
        program: PROGRAM_ID.toBase58(),
        signature: sig,
        slot: info?.slot,
        compute_units: info?.meta?.computeUnitsConsumed,
        fee_lamports: info?.meta?.fee,
        confirm_ms: ms,
        group: group.toBase58(),
        group_account: { lamports: acc.lamports, data_len: acc.data.length, owner: acc.owner.toBase58() },
        decoded: g,
        logs: info?.meta?.logMessages,
      },
      null,
      2,
    ),
  );
}

const cmd = process.argv[2];
const commands = { wallet, "create-group": createGroup };
if (!commands[cmd]) {
  console.error("usage: node client.mjs wallet [keypair.json] [--airdrop SOL] | create-group [--group-num N]");
  process.exit(2);
}
commands[cmd]().catch((e) => {
  console.error(e?.logs ? `${e.message}\n${e.logs.join("\n")}` : e);
  process.exit(1);
});
