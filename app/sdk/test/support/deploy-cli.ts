/** Runs `migrations/deploy.ts` as a command (the deploy tests over JSON-RPC). */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import type { DeployConfigJson } from "../../src/deploy-entry";

/** Runs `node --import tsx migrations/deploy.ts args...` and returns its output. */
export function runDeploy(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.resolve(__dirname, "../../../../migrations/deploy.ts"), ...args], {
      cwd: path.resolve(__dirname, "../.."),
      env: { ...process.env, INIT_CWD: undefined },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Writes the config and the admin's keypair file; the deploy command's arguments. */
export function deployFiles(url: string, admin: { secretKey: Uint8Array }, config: DeployConfigJson) {
  const dir = mkdtempSync(path.join(tmpdir(), "cross-margin-deploy-"));
  const configPath = path.join(dir, "config.json");
  const keypairPath = path.join(dir, "admin.json");
  const write = (c: DeployConfigJson) => writeFileSync(configPath, JSON.stringify(c));
  write(config);
  writeFileSync(keypairPath, JSON.stringify(Array.from(admin.secretKey)));
  return { configPath, write, args: ["--url", url, "--keypair", keypairPath, "--config", configPath] };
}
