// How long property/fuzz tests run: FUZZ_RUNS multiplies every test's numRuns (1 by default,
// the quick run of `npm test`; scripts/fuzz.sh sets it for a longer session).
export const FUZZ_RUNS = Math.max(1, Math.floor(Number(process.env['FUZZ_RUNS'] ?? '') || 0));

export function runs(n: number): { numRuns: number; seed?: number } {
  const seed = process.env['FUZZ_SEED'];
  return seed !== undefined && seed !== '' ? { numRuns: n * FUZZ_RUNS, seed: Number(seed) } : { numRuns: n * FUZZ_RUNS };
}
