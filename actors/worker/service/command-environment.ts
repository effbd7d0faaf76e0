/**
 * The environment a worker hands to its commands. `npx ampstate worker` runs under npm, which adds
 * its own variables (npm_config_*, npm_package_*, INIT_CWD, NODE…) and puts node_modules/.bin
 * directories in front of PATH; a build must see the machine's environment, not npm's
 * (see docs/worker-service.md).
 */

const NPM_VARIABLE = /^npm_/i;
/** Set by npm for the scripts it runs, alongside the npm_* variables. */
const NPM_COMPANIONS = ['INIT_CWD', 'NODE', 'COLOR'] as const;
/** PATH entries npm prepends: every ancestor's node_modules/.bin and npm's node-gyp shim. */
const NPM_PATH_ENTRY = /(?:^|[\\/])node_modules[\\/]\.bin$|[\\/]node-gyp-bin$/;

/** True when this process was started by npm or npx (they always set npm_execpath or npm_command). */
export function startedByNpm(environ: NodeJS.ProcessEnv): boolean {
  return environ.npm_execpath !== undefined || environ.npm_command !== undefined || environ.npm_lifecycle_event !== undefined;
}

/** `environ` without what npm added; unchanged (a copy) when npm did not start us. */
export function commandEnvironment(environ: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...environ };
  if (!startedByNpm(environ)) return result;
  for (const name of Object.keys(result)) if (NPM_VARIABLE.test(name)) delete result[name];
  for (const name of NPM_COMPANIONS) delete result[name];
  if (result.PATH !== undefined) {
    result.PATH = result.PATH.split(':')
      .filter((entry) => !NPM_PATH_ENTRY.test(entry))
      .join(':');
  }
  return result;
}
