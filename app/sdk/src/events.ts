/**
 * The program's events (`emit!`, i.e. `Program data:` log lines), decoded with the IDL's event
 * coder. Names are the IDL's camelCase ones (`liquidation`, `tokenMovement`, ...); fields are
 * as Anchor decodes them (`BN` for 64/128-bit integers, `PublicKey`, plain numbers).
 *
 * Perp liquidation's events: `perpLiquidation` (`liquidate_perp`: lots before and after, the
 * oracle price, the fill's quote change, the keeper's and the insurance fund's fees, maint
 * health before and after, the end target, whether the account is still being liquidated or is
 * bankrupt, the market's open interest after), `perpBankruptcyResolved`
 * (`resolve_perp_bankruptcy`: the loss, paid from collateral, from insurance, socialised; the
 * fund's shares and the market's socialised total after) and `perpInsuranceFunded`
 * (`fund_perp_insurance`). `nativeEventsNamed` gives them in the SDK's form (`bigint`s).
 */
import { EventParser, type IdlEvents } from "@anchor-lang/core";
import type { PublicKey } from "@solana/web3.js";

import { coder, fromIdl, PROGRAM_ID, type CrossMargin, type Native } from "./idl";

export type CrossMarginEvents = IdlEvents<CrossMargin>;
export type EventName = keyof CrossMarginEvents & string;
export type CrossMarginEvent = { [K in EventName]: { name: K; data: CrossMarginEvents[K] } }[EventName];

/** Every event the program emitted in `logs`, in order (events of CPI'd programs skipped). */
export function parseEvents(logs: readonly string[], programId: PublicKey = PROGRAM_ID): CrossMarginEvent[] {
  const parser = new EventParser(programId, coder());
  const events: CrossMarginEvent[] = [];
  for (const event of parser.parseLogs([...logs])) {
    events.push(event as unknown as CrossMarginEvent);
  }
  return events;
}

/** The events named `name` in `logs`. */
export function eventsNamed<K extends EventName>(logs: readonly string[], name: K, programId: PublicKey = PROGRAM_ID): Array<CrossMarginEvents[K]> {
  return parseEvents(logs, programId)
    .filter((e): e is Extract<CrossMarginEvent, { name: K }> => e.name === name)
    .map((e) => e.data as CrossMarginEvents[K]);
}

/** The events named `name` in `logs`, in the SDK's form: 64/128-bit integers as `bigint`
 * (`fromIdl`), e.g. `nativeEventsNamed(logs, "perpLiquidation")[0]!.liquidationFee`. */
export function nativeEventsNamed<K extends EventName>(logs: readonly string[], name: K, programId: PublicKey = PROGRAM_ID): Array<Native<CrossMarginEvents[K]>> {
  return eventsNamed(logs, name, programId).map((e) => fromIdl(e));
}

export type PerpLiquidationEvent = Native<CrossMarginEvents["perpLiquidation"]>;
export type PerpBankruptcyResolvedEvent = Native<CrossMarginEvents["perpBankruptcyResolved"]>;
export type PerpInsuranceFundedEvent = Native<CrossMarginEvents["perpInsuranceFunded"]>;
