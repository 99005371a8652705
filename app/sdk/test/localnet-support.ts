/**
 * Shared by the localnet test (`localnet.test.ts`) and the end-to-end steps (`localnet-e2e.ts`):
 * a market on a real `solana-test-validator` reached over JSON-RPC only (ConnectionChain), on the
 * genesis accounts of tests/localnet/ and the group `migrations/deploy.ts` created from
 * migrations/config.localnet-genesis.json.
 *
 * Environment (scripts/localnet-e2e.sh sets all of it):
 *   CROSS_MARGIN_RPC_URL     the validator's JSON-RPC endpoint
 *   ANCHOR_WALLET            the group admin's keypair (it ran deploy.ts); pays for the users
 *   CROSS_MARGIN_DEPLOY_CONFIG   default migrations/config.localnet-genesis.json
 *   CROSS_MARGIN_KEEPER_KEYPAIR  the keeper's keypair (the liquidator account's owner)
 *   CROSS_MARGIN_LOCALNET_STATE  where the test records what it created, for the later steps
 */
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

import {
  Connection,
  PublicKey,
  SystemProgram,
  TransactionInstruction,
  type Signer,
} from "@solana/web3.js";

import {
  bankRef,
  ConnectionChain,
  createAccountIx,
  CrossMarginClient,
  depositIx,
  groupAddress,
  healthIx,
  TransactionFailedError,
  type AccountHealth,
  type BankRef,
  type SentTransaction,
} from "../src";
import {
  Keypair,
  parseDeployConfig,
  type DeployConfig,
} from "../src/deploy-entry";
import { GENESIS_DEPLOY_CONFIG, readManifest, type GenesisManifest } from "./localnet-genesis";

export const ROOT = path.resolve(__dirname, "../../..");

export const TOKEN_PROGRAM = new PublicKey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
export const ASSOCIATED_TOKEN_PROGRAM = new PublicKey("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");

export const USDC = 1_000_000n;
export const SOL = 1_000_000_000n;
export const BTC = 100_000_000n;

export type BankName = "USDC" | "SOL" | "BTC";
export const BANK_NAMES: readonly BankName[] = ["USDC", "SOL", "BTC"];

/** The RPC endpoint, or null when the localnet tests should be skipped. Only
 * CROSS_MARGIN_RPC_URL counts (not ANCHOR_PROVIDER_URL): the test needs a validator prepared by
 * scripts/localnet-e2e.sh, which sets it. */
export function rpcUrl(): string | null {
  return process.env["CROSS_MARGIN_RPC_URL"] || null;
}

function expandHome(file: string): string {
  return file.replace(/^~(?=$|\/)/, homedir());
}

export function readKeypair(file: string): Keypair {
  return Keypair.fromSecretKey(Uint8Array.from(JSON.parse(readFileSync(expandHome(file), "utf8")) as number[]));
}

export function walletPath(): string {
  return expandHome(process.env["ANCHOR_WALLET"] ?? "~/.config/solana/id.json");
}

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// SPL Token, by hand (the SDK has no token dependency; these are the programs' wire formats)
// ---------------------------------------------------------------------------------------------

export function associatedTokenAddress(owner: PublicKey, mint: PublicKey): PublicKey {
  return PublicKey.findProgramAddressSync([owner.toBuffer(), TOKEN_PROGRAM.toBuffer(), mint.toBuffer()], ASSOCIATED_TOKEN_PROGRAM)[0];
}

/** The associated token program's `CreateIdempotent`. */
export function createAssociatedTokenAccountIx(payer: PublicKey, owner: PublicKey, mint: PublicKey): TransactionInstruction {
  return new TransactionInstruction({
    programId: ASSOCIATED_TOKEN_PROGRAM,
    keys: [
      { pubkey: payer, isSigner: true, isWritable: true },
      { pubkey: associatedTokenAddress(owner, mint), isSigner: false, isWritable: true },
      { pubkey: owner, isSigner: false, isWritable: false },
      { pubkey: mint, isSigner: false, isWritable: false },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
      { pubkey: TOKEN_PROGRAM, isSigner: false, isWritable: false },
    ],
    data: Buffer.from([1]),
  });
}

/** SPL Token `MintTo` (instruction 7). */
export function mintToIx(mint: PublicKey, destination: PublicKey, authority: PublicKey, amount: bigint): TransactionInstruction {
  const data = Buffer.alloc(9);
  data.writeUInt8(7, 0);
  data.writeBigUInt64LE(amount, 1);
  return new TransactionInstruction({
    programId: TOKEN_PROGRAM,
    keys: [
      { pubkey: mint, isSigner: false, isWritable: true },
      { pubkey: destination, isSigner: false, isWritable: true },
      { pubkey: authority, isSigner: true, isWritable: false },
    ],
    data,
  });
}

/** A token account's amount (SPL Token layout: mint 32, owner 32, amount u64). */
export async function tokenBalance(chain: ConnectionChain, address: PublicKey): Promise<bigint> {
  const account = await chain.getAccount(address);
  if (!account) throw new Error(`token account ${address.toBase58()} does not exist`);
  return Buffer.from(account.data).readBigUInt64LE(64);
}

// ---------------------------------------------------------------------------------------------
// The market on the validator
// ---------------------------------------------------------------------------------------------

export interface User {
  label: string;
  keypair: Keypair;
  account: PublicKey;
  /** Associated token account per bank. */
  tokens: Record<BankName, PublicKey>;
}

export class LocalnetMarket {
  private constructor(
    readonly chain: ConnectionChain,
    readonly client: CrossMarginClient,
    readonly admin: Keypair,
    readonly mintAuthority: Keypair,
    readonly manifest: GenesisManifest,
    readonly config: DeployConfig,
    readonly group: PublicKey,
    readonly banks: Record<BankName, BankRef>,
  ) {}

  /** The group deploy.ts created for `ANCHOR_WALLET` from the genesis config, read over RPC. */
  static async load(url: string): Promise<LocalnetMarket> {
    const chain = ConnectionChain.fromUrl(url, "confirmed");
    chain.pollIntervalMs = 100;
    const client = new CrossMarginClient(chain);
    const admin = readKeypair(walletPath());
    const manifest = readManifest();
    const mintAuthority = readKeypair(path.join(ROOT, manifest.mintAuthority.keypairFile));
    const configPath = process.env["CROSS_MARGIN_DEPLOY_CONFIG"] ?? GENESIS_DEPLOY_CONFIG;
    const config = parseDeployConfig(JSON.parse(readFileSync(configPath, "utf8")));
    const group = groupAddress(admin.publicKey, config.groupNum);
    const onChain = await client.banks(group);
    const banks = {} as Record<BankName, BankRef>;
    for (const name of BANK_NAMES) {
      const mint = new PublicKey(manifest.mints[name].address);
      const bank = onChain.find((b) => b.data.mint.equals(mint));
      if (!bank) throw new Error(`group ${group.toBase58()} has no ${name} bank (mint ${mint.toBase58()}); run migrations/deploy.ts first`);
      banks[name] = bankRef(bank.address, bank.data);
    }
    return new LocalnetMarket(chain, client, admin, mintAuthority, manifest, config, group, banks);
  }

  get connection(): Connection {
    return this.chain.connection;
  }

  bankName(address: PublicKey): BankName {
    const name = BANK_NAMES.find((n) => this.banks[n].address.equals(address));
    if (!name) throw new Error(`unknown bank ${address.toBase58()}`);
    return name;
  }

  bankNameByIndex(bankIndex: number): BankName {
    const name = BANK_NAMES.find((n) => this.banks[n].bankIndex === bankIndex);
    if (!name) throw new Error(`unknown bank index ${bankIndex}`);
    return name;
  }

  /**
   * A new user in one transaction paid by the admin: `lamports` of SOL, an associated token
   * account per mint with `funds` minted into it by the mint authority, and a margin account
   * (number 0). `keypair` defaults to a fresh one.
   */
  async newUser(label: string, funds: Partial<Record<BankName, bigint>>, keypair: Keypair = Keypair.generate(), lamports = 1_000_000_000n): Promise<User> {
    const owner = keypair.publicKey;
    const instructions: TransactionInstruction[] = [SystemProgram.transfer({ fromPubkey: this.admin.publicKey, toPubkey: owner, lamports })];
    const tokens = {} as Record<BankName, PublicKey>;
    for (const name of BANK_NAMES) {
      const mint = this.banks[name].mint;
      tokens[name] = associatedTokenAddress(owner, mint);
      instructions.push(createAssociatedTokenAccountIx(this.admin.publicKey, owner, mint));
      const amount = funds[name] ?? 0n;
      if (amount > 0n) instructions.push(mintToIx(mint, tokens[name], this.mintAuthority.publicKey, amount));
    }
    const { instruction, account } = await createAccountIx({ group: this.group, owner, payer: this.admin.publicKey, accountNum: 0 });
    instructions.push(instruction);
    await this.chain.sendTransaction(instructions, this.admin, [this.mintAuthority, keypair]);
    return { label, keypair, account, tokens };
  }

  private request(user: User, bank: BankName, amount: bigint) {
    return { account: user.account, owner: user.keypair.publicKey, bank: this.banks[bank].address, userToken: user.tokens[bank], amount };
  }

  send(user: User, instructions: TransactionInstruction[], signers: Signer[] = []): Promise<SentTransaction> {
    return this.chain.sendTransaction(instructions, user.keypair, signers);
  }

  /** Deposits into several banks in one transaction. */
  async deposit(user: User, amounts: Partial<Record<BankName, bigint>>): Promise<SentTransaction> {
    const instructions: TransactionInstruction[] = [];
    for (const name of BANK_NAMES) {
      const amount = amounts[name];
      if (amount === undefined) continue;
      const transfer = { group: this.group, account: user.account, owner: user.keypair.publicKey, bank: this.banks[name], userToken: user.tokens[name] };
      instructions.push(await depositIx(transfer, amount));
    }
    return this.send(user, instructions);
  }

  async borrow(user: User, bank: BankName, amount: bigint): Promise<SentTransaction> {
    return this.send(user, [await this.client.borrowIx(this.request(user, bank, amount))]);
  }

  /** The program's `health` view, simulated over RPC with the admin as (unsigned) fee payer. */
  async health(account: PublicKey): Promise<AccountHealth> {
    return this.client.health(account, this.admin.publicKey);
  }
}

/** The end target of an account from its health view: `end buffer × maint-weighted liabilities`. */
export function endTarget(health: AccountHealth, endBufferBps: number): bigint {
  const liabilities = health.positions.filter((p) => p.isLiability).reduce((sum, p) => sum - p.maint, 0n);
  return (liabilities * BigInt(endBufferBps)) / 10_000n;
}

/** Micro-USD as dollars, for logs. */
export function usd(micro: bigint): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const cents = (abs + 5_000n) / 10_000n;
  return `${negative ? "-" : ""}$${(cents / 100n).toLocaleString("en-US")}.${(cents % 100n).toString().padStart(2, "0")}`;
}

// ---------------------------------------------------------------------------------------------
// What the test leaves for the later steps
// ---------------------------------------------------------------------------------------------

export interface BorrowerRecord {
  label: string;
  owner: string;
  account: string;
  /** What the test expects once SOL is at $75: liquidated to the end target, liquidated and
   * then written off (bankrupt), or untouched. */
  expect: "liquidated" | "written-off" | "untouched";
  /** The SDK's liquidation-price estimate for the SOL position before the crash, if any. */
  solLiquidationPrice: number | null;
}

export interface LocalnetState {
  rpcUrl: string;
  group: string;
  admin: string;
  keeper: { owner: string; account: string };
  borrowers: BorrowerRecord[];
  /** The lender's margin account (its USDC deposit absorbs socialized losses). */
  lender: string;
}

export function statePath(): string {
  return requiredEnv("CROSS_MARGIN_LOCALNET_STATE");
}

export function writeState(state: LocalnetState): void {
  writeFileSync(statePath(), JSON.stringify(state, null, 2) + "\n");
}

export function readState(): LocalnetState {
  return JSON.parse(readFileSync(statePath(), "utf8")) as LocalnetState;
}

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

/**
 * Waits until the program runs. A program loaded at genesis is refused with
 * `UnsupportedProgramId` for the validator's first slots (about 1 s); a freshly deployed one is
 * not callable before the next slot. The probe simulates the `health` view on accounts that do
 * not exist: once the program runs, Anchor answers `AccountNotInitialized`.
 */
export async function waitForProgram(chain: ConnectionChain, feePayer: PublicKey, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  const probe = await healthIx(Keypair.generate().publicKey, Keypair.generate().publicKey, []);
  let last = "";
  for (;;) {
    try {
      await chain.simulateTransaction([probe], feePayer);
      return Date.now() - started;
    } catch (error) {
      if (error instanceof TransactionFailedError && error.decoded && error.decoded.origin !== "other") {
        return Date.now() - started; // the program ran and refused the missing accounts
      }
      last = error instanceof TransactionFailedError ? JSON.stringify(error.raw) : String(error);
    }
    if (Date.now() - started > timeoutMs) throw new Error(`the program did not run within ${timeoutMs} ms (last answer: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
