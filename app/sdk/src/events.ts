/**
 * The program's events (`emit!`, i.e. `Program data:` log lines), decoded with the IDL's event
 * coder. Names are the IDL's camelCase ones (`liquidation`, `tokenMovement`, ...); fields are
 * as Anchor decodes them (`BN` for 64/128-bit integers, `PublicKey`, plain numbers).
 */
import { EventParser, type IdlEvents } from "@anchor-lang/core";
import type { PublicKey } from "@solana/web3.js";

import { coder, PROGRAM_ID, type CrossMargin } from "./idl";

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
