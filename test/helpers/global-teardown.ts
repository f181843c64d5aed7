import { printSuiteTally } from './tally';

export default function globalTeardown(): void {
  printSuiteTally();
}
