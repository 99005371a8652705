// Anchor's deploy hook (`anchor migrate`), run with the provider from Anchor.toml.
// Creating the group and its banks from a config file is tracked separately; until then this
// hook only sets the provider, exactly like Anchor's template.
import * as anchor from "@anchor-lang/core";

module.exports = async function (provider: anchor.AnchorProvider) {
  anchor.setProvider(provider);
};
