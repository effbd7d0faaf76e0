/**
 * The compiler options of a user's strict project, with library checks on: what the published
 * types must pass (the packed-tarball test and the README's TypeScript blocks use it).
 */
export const STRICT_CONSUMER_OPTIONS = {
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  types: ['node'],
  outDir: 'out',
} as const;
