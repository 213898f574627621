/**
 * Online estimates of how likely the target is to accept a proposed token, learned in the session from
 * every verification (a node is *tried* when its parent was accepted; it *succeeds* when it is accepted too).
 *
 * - Prompt lookup: by the length of the suffix that matched and the token's place in the copied run
 *   (a 4-token match predicts its next token far better than a 2-token one, and the run decays).
 * - Draft: by the draft's own probability for the token (in tenths) and whether the draft computed it on
 *   the chain it actually drafted (`onChain`) or it is a first-choice token grafted under an alternative.
 *
 * Each bin starts from a prior worth a few observations, so a fresh session behaves sensibly and the
 * estimates follow the model, the text and the sampling settings within tens of steps.
 */

interface Bin {
  hits: number;
  trials: number;
}

const PRIOR_WEIGHT = 4;
/** Positions past this in a lookup run share one bin. */
const MAX_RUN_BIN = 7;

export type LookupKey = { kind: 'lookup'; matched: number; index: number };
export type DraftKey = { kind: 'draft'; probability: number; onChain: boolean };
export type AcceptKey = LookupKey | DraftKey;

export class AcceptanceStats {
  private readonly bins = new Map<string, Bin>();

  /** The estimated chance that a node with this key is accepted, given its parent was. */
  estimate(key: AcceptKey): number {
    const bin = this.bins.get(binName(key));
    const prior = priorOf(key);
    return ((bin?.hits ?? 0) + prior * PRIOR_WEIGHT) / ((bin?.trials ?? 0) + PRIOR_WEIGHT);
  }

  record(key: AcceptKey, accepted: boolean): void {
    const name = binName(key);
    const bin = this.bins.get(name) ?? { hits: 0, trials: 0 };
    bin.trials += 1;
    if (accepted) bin.hits += 1;
    this.bins.set(name, bin);
  }

  /** Per-bin counts, for diagnostics. */
  snapshot(): Record<string, { hits: number; trials: number; rate: number }> {
    const out: Record<string, { hits: number; trials: number; rate: number }> = {};
    for (const [name, b] of [...this.bins].sort()) out[name] = { hits: b.hits, trials: b.trials, rate: Math.round((b.hits / b.trials) * 1000) / 1000 };
    return out;
  }
}

function tenth(probability: number): number {
  return Math.min(9, Math.max(0, Math.floor(probability * 10)));
}

function binName(key: AcceptKey): string {
  if (key.kind === 'lookup') return `lookup/${key.matched}/${Math.min(key.index, MAX_RUN_BIN)}`;
  return `draft/${key.onChain ? 'chain' : 'graft'}/${tenth(key.probability)}`;
}

/** Before any evidence: lookup runs are as good as coin flips, a draft token as likely as the draft says. */
function priorOf(key: AcceptKey): number {
  if (key.kind === 'lookup') return key.matched >= 3 ? 0.6 : 0.4;
  const centre = (tenth(key.probability) + 0.5) / 10;
  return key.onChain ? centre : centre / 2;
}
