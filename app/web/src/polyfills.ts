// Anchor's borsh coder (@anchor-lang/borsh, which the SDK encodes instructions with) uses the
// global `Buffer`, which browsers do not have. The SDK itself imports `buffer` explicitly; a
// dapp using Anchor sets the global once, first thing in its entry.
import { Buffer } from "buffer";

globalThis.Buffer ??= Buffer;
