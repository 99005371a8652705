/**
 * The perp markets of a deploy config (`perpMarkets`), created and reconciled by
 * `deployFromConfig` after the banks, with the banks' rules: what exists is checked and skipped;
 * a market that differs is reported field by field and reconfigured only with
 * `applyConfigChanges`; in a live group what the program refuses at once is queued with a
 * warning until when it waits, and `add_perp_market` creates the market closed (open-interest
 * caps 0) with its configuration queued.
 *
 * Market indices follow creation order, so a market's index is its position in `perpMarkets`:
 * the list may grow at its end, never be reordered. A market's settle bank cannot change.
 */
import type { PublicKey, Signer, TransactionInstruction } from "@solana/web3.js";

import { configChangeDue, configChangeIsDue, perpMarketFromAccount, type Group, type PerpMarket, type PerpMarketConfig } from "./accounts";
import type { Chain } from "./chain";
import type { BankDeploySpec, DeployAction, DeployOptions, FieldDifference, QueuedChangeReport } from "./deploy";
import { ConfigError, onlyKeys, parseOracleConfig, pubkey, record, sameValue, type ConfigJson } from "./deploy-json";
import { isoTime, perpMarketChangeFields, showValue, type FieldChange } from "./pending";
import { addPerpMarketIx, applyPerpMarketConfigIx, cancelPerpMarketConfigIx, configurePerpMarketIx, queuePerpMarketConfigIx } from "./perp-instructions";
import { bankAddress, perpMarketAddress } from "./pda";

/** A perp market's config in the file: the fields of `PerpMarketConfig`, written as a bank's
 * (u64s as `U64Json`, the feed id as hex, the oracle kind by name). */
export type PerpMarketConfigJson = { [K in Exclude<keyof PerpMarketConfig, "oracleKind">]: ConfigJson<PerpMarketConfig[K]> } & {
  oracleKind: "pythPull" | "pythLegacy";
};

export interface PerpMarketDeployJson {
  /** A label for reports (e.g. "SOL-PERP"). */
  name: string;
  oracle: string;
  /** The `name` of the config's bank PnL settles in (6 decimals, e.g. "USDC"). */
  settleBank: string;
  config: PerpMarketConfigJson;
}

export interface PerpMarketDeploySpec {
  name: string;
  /** Its position in the config's `perpMarkets`. */
  marketIndex: number;
  oracle: PublicKey;
  /** The settle bank's name and mint (its bank is `bankAddress(group, settleMint)`). */
  settleBank: string;
  settleMint: PublicKey;
  config: PerpMarketConfig;
}

/** The config's `perpMarkets` (absent: none), each settle bank looked up among `banks`. */
export function parsePerpMarkets(value: unknown, banks: ReadonlyArray<BankDeploySpec>): PerpMarketDeploySpec[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError("config.perpMarkets", "must be an array");
  const specs = value.map((entry, marketIndex): PerpMarketDeploySpec => {
    const path = `config.perpMarkets[${marketIndex}]`;
    const market = record(entry, path);
    onlyKeys(market, ["name", "oracle", "settleBank", "config"], path);
    if (typeof market["name"] !== "string" || market["name"] === "") throw new ConfigError(`${path}.name`, "must be a non-empty string");
    const settle = banks.find((b) => b.name === market["settleBank"]);
    if (!settle) throw new ConfigError(`${path}.settleBank`, `must name a bank of this config (${banks.map((b) => b.name).join(", ")})`);
    return {
      name: market["name"],
      marketIndex,
      oracle: pubkey(market["oracle"], `${path}.oracle`),
      settleBank: settle.name,
      settleMint: settle.mint,
      config: parseOracleConfig<PerpMarketConfig>("perpMarketConfig", market["config"], `${path}.config`),
    };
  });
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new ConfigError("config.perpMarkets", "two perp markets have the same name");
  return specs;
}

export interface PerpMarketDeployReport {
  name: string;
  marketIndex: number;
  address: PublicKey;
  action: DeployAction;
  differences: FieldDifference[];
  queued: QueuedChangeReport | null;
}

/** What `deployFromConfig` hands the perp part: its chain, keys and the steps it shares. */
export interface DeployContext {
  chain: Chain;
  admin: Signer;
  payer: Signer;
  programId: PublicKey;
  groupKey: PublicKey;
  readGroup: () => Promise<Group>;
  options: DeployOptions;
  log: (line: string) => void;
  warn: (line: string) => void;
  send: (what: string, instructions: TransactionInstruction[]) => Promise<void>;
  takenAtOnce: (instructions: TransactionInstruction[]) => Promise<boolean>;
  now: () => Promise<bigint>;
  queuedReport: (applyAfterTs: bigint, changes: FieldChange[]) => Promise<QueuedChangeReport>;
  waitNote: (queued: QueuedChangeReport, what: string) => string;
}

/** Differences between a perp market on chain and its wanted config + oracle. */
export function perpMarketDifferences(market: PerpMarket, spec: PerpMarketDeploySpec): FieldDifference[] {
  const differences: FieldDifference[] = [];
  for (const field of Object.keys(spec.config) as Array<keyof PerpMarketConfig>) {
    if (!sameValue(market.config[field], spec.config[field])) {
      differences.push({ field, onChain: showValue(market.config[field]), wanted: showValue(spec.config[field]) });
    }
  }
  if (!sameValue(market.oracle, spec.oracle)) differences.push({ field: "oracle", onChain: showValue(market.oracle), wanted: showValue(spec.oracle) });
  return differences;
}

function queuedAsWanted(market: PerpMarket, spec: PerpMarketDeploySpec): boolean {
  if (market.pending.applyAfterTs === 0n || !sameValue(market.pending.oracle, spec.oracle)) return false;
  return (Object.keys(spec.config) as Array<keyof PerpMarketConfig>).every((field) => sameValue(market.pending.config[field], spec.config[field]));
}

const describeChanges = (changes: FieldChange[]): string =>
  changes.length === 0 ? "no setting differs" : changes.map((c) => `${c.field} ${c.from} -> ${c.to}`).join(", ");

/** Creates the missing perp markets of the config and reconciles the existing ones, in order. */
export async function deployPerpMarkets(ctx: DeployContext, specs: ReadonlyArray<PerpMarketDeploySpec>): Promise<PerpMarketDeployReport[]> {
  const reports: PerpMarketDeployReport[] = [];
  for (const spec of specs) reports.push(await deployPerpMarket(ctx, spec));
  return reports;
}

async function deployPerpMarket(ctx: DeployContext, spec: PerpMarketDeploySpec): Promise<PerpMarketDeployReport> {
  const { chain, admin, programId, groupKey, options } = ctx;
  const address = perpMarketAddress(groupKey, spec.marketIndex, programId);
  const settleBank = bankAddress(groupKey, spec.settleMint, programId);
  const label = `perp market ${spec.name} (${address.toBase58()})`;
  const read = async (): Promise<PerpMarket> => perpMarketFromAccount((await chain.getAccount(address))!, programId);
  const existing = await chain.getAccount(address);
  const group = await ctx.readGroup();
  let action: DeployAction;
  let differences: FieldDifference[] = [];
  let queuedHere = false;
  const notes: string[] = [];
  if (!existing) {
    if (group.perpMarketCount !== spec.marketIndex) {
      throw new Error(`${label}: the config's market index ${spec.marketIndex} is not the group's next (${group.perpMarketCount}): perpMarkets may only grow at its end`);
    }
    const { instruction } = await addPerpMarketIx({ group: groupKey, admin: admin.publicKey, payer: ctx.payer.publicKey, marketIndex: spec.marketIndex, settleBank, oracle: spec.oracle, config: spec.config });
    await ctx.send(`add_perp_market ${spec.name}`, [instruction]);
    action = "created";
    queuedHere = true; // in a live group add_perp_market queues the market's configuration
  } else {
    let market = perpMarketFromAccount(existing, programId);
    if (!market.settleBank.equals(settleBank)) {
      throw new Error(`${label}: settles in bank ${market.settleBank.toBase58()}, the config's ${spec.settleBank} is ${settleBank.toBase58()} (a market's settle bank cannot change)`);
    }
    const queued = market.pending.applyAfterTs !== 0n;
    const queuedDue = () => isoTime(configChangeDue(group, market.pending.applyAfterTs));
    if (queued && queuedAsWanted(market, spec)) {
      if (options.applyDueChanges && configChangeIsDue(group, market.pending.applyAfterTs, await ctx.now())) {
        await ctx.send(`apply_perp_market_config ${spec.name}`, [await applyPerpMarketConfigIx({ group: groupKey, perpMarket: address, oracle: market.pending.oracle })]);
        action = "applied";
        market = await read();
      } else {
        action = "pending";
      }
      differences = perpMarketDifferences(market, spec);
    } else {
      differences = perpMarketDifferences(market, spec);
      if (queued) notes.push(`a change the config does not have is queued (${describeChanges(perpMarketChangeFields(market))}, due ${queuedDue()})`);
      if (differences.length === 0 && !queued) {
        action = "unchanged";
      } else if (!options.applyConfigChanges) {
        action = "differs";
      } else {
        const instructions: TransactionInstruction[] = [];
        const names: string[] = [];
        if (queued) {
          ctx.warn(`${label}: cancelled its queued change (${describeChanges(perpMarketChangeFields(market))}, due ${queuedDue()}): the config differs`);
          instructions.push(await cancelPerpMarketConfigIx({ group: groupKey, admin: admin.publicKey, perpMarket: address }));
          names.push(`cancel_perp_market_config ${spec.name}`);
        }
        action = "reconfigured";
        if (differences.length > 0) {
          const args = { group: groupKey, admin: admin.publicKey, perpMarket: address, oracle: spec.oracle, config: spec.config };
          const configure = await configurePerpMarketIx(args);
          if (await ctx.takenAtOnce([...instructions, configure])) {
            instructions.push(configure);
            names.push(`configure_perp_market ${spec.name}`);
          } else {
            instructions.push(await queuePerpMarketConfigIx(args));
            names.push(`queue_perp_market_config ${spec.name}`);
            action = "queued";
            queuedHere = true;
          }
        }
        await ctx.send(names.join(" + "), instructions);
      }
    }
  }
  const market = await read();
  const queued = market.pending.applyAfterTs !== 0n ? await ctx.queuedReport(configChangeDue(group, market.pending.applyAfterTs), perpMarketChangeFields(market)) : null;
  ctx.log(`${label}: ${action}`);
  for (const d of differences) ctx.log(`  ${d.field}: on chain ${d.onChain}, config ${d.wanted}`);
  for (const note of notes) ctx.log(`  ${note}`);
  if (queued && (action === "created" || action === "queued" || action === "pending")) {
    const what = action === "created" ? "created closed (open-interest caps 0); its configuration is queued" : queuedHere ? "queued" : "already queued";
    const changes = action === "created" ? "" : ` ${describeChanges(perpMarketChangeFields(market))}`;
    ctx.warn(`${label}:${changes} ${what}: ${ctx.waitNote(queued, "apply_perp_market_config")}`);
  }
  return { name: spec.name, marketIndex: spec.marketIndex, address, action, differences, queued };
}
