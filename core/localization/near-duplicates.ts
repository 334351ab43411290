/**
 * A region's lead that passes over near-duplicates of its first result. A region is scored by its first result's
 * cosine plus a multiple of its lead over the second (LocalizerSettings.gapWeight): a region that finds one product
 * clearly is about that product. A catalog that lists an item beside near-duplicates of it (the same item recoloured,
 * another colourway) gives the item's region no lead: the variant sits right behind it, and a region on a part of the
 * item, which finds that part's close-up (listed as another product) with a clear lead, wins the choice. Measured on
 * the chooser's answers (benchmarks/results/localization-chooser-head.md, "A lead that passes over near-duplicates"):
 * the lead over the first of the next 3 results whose catalog vector (the scoring model's) has a cosine below 0.8 with
 * the first result's took hard-negative photos 0.533 → 0.602, scenes 0.797 → 0.798 and 0.777 → 0.775. An item and its
 * recolouring have a cosine of 0.86 at the median (p10 0.71), an item and a close-up of a part of it 0.63, two items 0.21.
 */

export interface RankedHit {
  id: string;
  /** Cosine to the region's vector. */
  cosine: number;
}

export interface NearDuplicateSettings {
  /** Catalog cosine at or above which a result is a near-duplicate of the first; 0: off. */
  threshold: number;
  /** How many results after the first are looked through. */
  depth: number;
  /** Only a region whose lead over its second result is below this is looked at (a clear lead stays as it is). */
  gap: number;
}

/** The results whose vectors a region's lead needs (none when it needs no look: off, a clear lead, too few results). */
export function lookedAt(hits: RankedHit[], settings: NearDuplicateSettings): RankedHit[] {
  if (!(settings.threshold > 0) || hits.length < 3 || hits[0]!.cosine - hits[1]!.cosine >= settings.gap) return [];
  return hits.slice(0, 1 + settings.depth);
}

/** The largest cosine between any photo of one product and any photo of the other (0 when either has none). */
export function productCosine(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let best = 0;
  for (const x of a) for (const y of b) best = Math.max(best, cosineOf(x, y));
  return best;
}

/** The cosine of two vectors (0 when their lengths differ or either is zero). */
export function cosineOf(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return 0;
  let dot = 0;
  let xx = 0;
  let yy = 0;
  for (let d = 0; d < x.length; d++) {
    dot += x[d]! * y[d]!;
    xx += x[d]! * x[d]!;
    yy += y[d]! * y[d]!;
  }
  return xx > 0 && yy > 0 ? dot / Math.sqrt(xx * yy) : 0;
}

/**
 * The cosine a region's lead is taken over: its first result's nearest rival that is not a near-duplicate of it, of
 * the results `lookedAt` returned (none of them: the last); undefined when the region needs no look. A result whose
 * photos are unknown (not read back) counts as distinct, as the plain lead counts every result.
 */
export function distinctSecond(hits: RankedHit[], photos: Map<string, ArrayLike<number>[]>, settings: NearDuplicateSettings): number | undefined {
  const looked = lookedAt(hits, settings);
  if (looked.length === 0) return undefined;
  const first = photos.get(looked[0]!.id) ?? [];
  const rivals = looked.slice(1);
  const distinct = rivals.find((hit) => productCosine(first, photos.get(hit.id) ?? []) < settings.threshold);
  return (distinct ?? rivals[rivals.length - 1]!).cosine;
}
