// `anchor migrate` runs migrations/deploy.js when the workspace has no root tsconfig.json, as
// here: this loads the TypeScript hook, migrations/deploy.ts, through tsx from app/sdk's
// dependencies (scripts/test-ts.sh installs them). Anchor's host script requires
// @anchor-lang/core from .anchor/, so point Node at the same dependencies:
//
//   NODE_PATH=app/sdk/node_modules anchor migrate --provider.cluster <url>
//
// (CROSS_MARGIN_DEPLOY_CONFIG picks the config file, as for the hook; see deploy.ts.)
const path = require("path");

const tsx = require(path.join(__dirname, "../app/sdk/node_modules/tsx/dist/cjs/api/index.cjs"));
module.exports = tsx.require("./deploy.ts", __filename);
