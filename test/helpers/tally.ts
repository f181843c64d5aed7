/**
 * Counts the bad inputs a test file tries and the ones it saw handled, and prints both when the
 * file ends. A case adds to `handled` only after every assertion on it passed.
 */
export function useTally(what = 'bad inputs') {
  const tally = { tried: 0, handled: 0 };
  afterAll(() => console.log(`${what} tried: ${tally.tried}; handled: ${tally.handled}`));
  return tally;
}
