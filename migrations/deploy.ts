// Anchor's deploy hook (`anchor migrate`), and a standalone command for any cluster:
//
//   npm --prefix app/sdk run deploy -- --url http://127.0.0.1:8899 \
//     --keypair ~/.config/solana/id.json --config migrations/config.localnet.json [--apply-config-changes]
//
// It creates the group and its banks from the config file, idempotently: what exists is checked
// and skipped, so a second run sends nothing. A group or bank that exists with other settings is
// reported field by field and reconfigured only with --apply-config-changes (for the hook:
// CROSS_MARGIN_APPLY_CONFIG_CHANGES=1). The keypair is the group's admin and pays.
// The logic lives in the SDK (`deployFromConfig` in app/sdk/src/deploy.ts), where it is tested.
import { readFileSync } from "fs";
import * as os from "os";
import * as path from "path";

import {
  ConnectionChain,
  Keypair,
  deployFromConfig,
  parseDeployConfig,
  type AnchorProvider,
  type DeployReport,
} from "../app/sdk/src";

/** Reads and validates a config file, then deploys it through `chain`. */
async function deploy(
  chain: ConnectionChain,
  admin: Keypair,
  configPath: string,
  applyConfigChanges: boolean,
): Promise<DeployReport> {
  const config = parseDeployConfig(JSON.parse(readFileSync(configPath, "utf8")));
  console.log(`deploying ${configPath} as admin ${admin.publicKey.toBase58()}`);
  const report = await deployFromConfig(chain, admin, config, {
    applyConfigChanges,
    log: (line) => console.log(line),
  });
  const differing = report.banks.filter((b) => b.action === "differs").length + (report.group.action === "differs" ? 1 : 0);
  console.log(`${report.signatures.length} transaction(s) sent`);
  if (differing > 0) {
    console.log(`${differing} account(s) differ from the config; rerun with --apply-config-changes to reconfigure them`);
  }
  return report;
}

const defaultConfig = path.join(__dirname, "config.localnet.json");

// `anchor migrate`: the provider's wallet is the admin.
module.exports = async function (provider: AnchorProvider) {
  const payer = (provider.wallet as { payer?: Keypair }).payer;
  if (!payer) throw new Error("the provider's wallet exposes no keypair; use the standalone command");
  const chain = new ConnectionChain(provider.connection, provider.connection.commitment ?? "confirmed");
  await deploy(
    chain,
    payer,
    process.env["CROSS_MARGIN_DEPLOY_CONFIG"] ?? defaultConfig,
    process.env["CROSS_MARGIN_APPLY_CONFIG_CHANGES"] === "1",
  );
};

function argument(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/** A path given on the command line: `~` is the home folder, relative paths are relative to
 * where the command was started (`npm run` changes into app/sdk; it keeps the start in INIT_CWD). */
function userPath(value: string): string {
  return path.resolve(process.env["INIT_CWD"] ?? process.cwd(), value.replace(/^~(?=$|\/)/, os.homedir()));
}

async function main(args: string[]): Promise<void> {
  const url = argument(args, "--url") ?? "http://127.0.0.1:8899";
  const keypairPath = userPath(argument(args, "--keypair") ?? "~/.config/solana/id.json");
  const configPath = userPath(argument(args, "--config") ?? defaultConfig);
  const secret = Uint8Array.from(JSON.parse(readFileSync(keypairPath, "utf8")) as number[]);
  await deploy(ConnectionChain.fromUrl(url), Keypair.fromSecretKey(secret), configPath, args.includes("--apply-config-changes"));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
