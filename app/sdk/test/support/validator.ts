/**
 * A `solana-test-validator` for tests (the TS twin of the Rust test kit's `localnet::Validator`):
 * a fresh ledger on loopback, programs at genesis (loader v3, no upgrade authority), and
 * accounts built on LiteSVM loaded as genesis accounts (`--account-dir`), so a market set up
 * through real transactions on the embedded chain starts on the validator as it was.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

import { address } from "@solana/kit";
import { PublicKey, SystemProgram } from "@solana/web3.js";

import type { LiteSvmChain } from "./litesvm-chain";

export interface LocalValidator {
  url: string;
  /** Where the ledger and the validator's output live. */
  workdir: string;
  stop(): Promise<void>;
}

/** Whether TCP port `port` on loopback is free now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port `p` such that `p..p + span` were all free a moment ago (RPC, websocket, faucet, gossip, dynamic range). */
async function freePortBlock(span: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let free = true;
    for (let port = base; port < base + span && free; port++) free = await portFree(port);
    if (free) return base;
  }
  throw new Error("no free block of loopback ports for solana-test-validator");
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "getHealth" }) });
    return ((await response.json()) as { result?: string }).result === "ok";
  } catch {
    return false;
  }
}

/**
 * Writes every account of `chain` owned by one of `owners` (not executable), and the system
 * accounts `wallets`, as genesis account files (the `solana account --output json` format)
 * into `dir`. Returns how many.
 */
export function writeGenesisAccounts(chain: LiteSvmChain, dir: string, owners: PublicKey[], wallets: PublicKey[]): number {
  mkdirSync(dir, { recursive: true });
  const write = (key: string, owner: string, lamports: bigint, data: Uint8Array) =>
    writeFileSync(
      path.join(dir, `${key}.json`),
      JSON.stringify({ pubkey: key, account: { lamports: Number(lamports), data: [Buffer.from(data).toString("base64"), "base64"], owner, executable: false, rentEpoch: 0, space: data.length } }),
    );
  let written = 0;
  for (const owner of owners) {
    for (const account of chain.svm.getProgramAccounts(address(owner.toBase58()))) {
      if (account.executable) continue;
      write(account.address, owner.toBase58(), BigInt(account.lamports), new Uint8Array(account.data));
      written += 1;
    }
  }
  for (const wallet of wallets) {
    const account = chain.account(wallet);
    if (!account) throw new Error(`${wallet.toBase58()} does not exist on the embedded chain`);
    write(wallet.toBase58(), SystemProgram.programId.toBase58(), account.lamports, new Uint8Array());
    written += 1;
  }
  return written;
}

/** Starts `binary` with `programs` at genesis and the account files of `accountsDir`; waits until its RPC answers (90 s at most). */
export async function startValidator(binary: string, programs: Array<{ id: PublicKey; so: string }>, accountsDir: string): Promise<LocalValidator> {
  const workdir = mkdtempSync(path.join(tmpdir(), "cross-margin-validator-"));
  const port = await freePortBlock(40);
  const args = [
    "--ledger", path.join(workdir, "ledger"), "--reset", "--quiet",
    "--bind-address", "127.0.0.1", "--rpc-port", String(port), "--faucet-port", String(port + 2),
    "--gossip-port", String(port + 3), "--dynamic-port-range", `${port + 4}-${port + 40}`,
    "--account-dir", accountsDir,
  ];
  for (const { id, so } of programs) args.push("--upgradeable-program", id.toBase58(), so, SystemProgram.programId.toBase58());
  const log = openSync(path.join(workdir, "validator.out"), "w");
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", log, log] });
  let exited: string | null = null;
  child.once("exit", (code, signal) => (exited = `exited (${code ?? signal})`));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (exited === null) child.kill("SIGKILL");
    }
    rmSync(workdir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (!(await healthy(url))) {
    if (exited !== null || Date.now() > deadline) {
      const reason = exited ?? "not healthy in 90 s";
      if (exited === null) child.kill("SIGKILL");
      throw new Error(`solana-test-validator ${reason}; see ${path.join(workdir, "validator.out")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, workdir, stop };
}
