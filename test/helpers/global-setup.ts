import { startSuiteTally } from './tally';

export default function globalSetup(): void {
  startSuiteTally();
}
