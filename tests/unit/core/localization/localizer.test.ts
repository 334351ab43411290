import type { CropBox } from '../../../../core/image/autocrop';
import { choose, DEFAULT_LOCALIZER_SETTINGS, Localizer, regionScore, type Candidate } from '../../../../core/localization/localizer';
import type { FeatureMap, FeatureMapModel } from '../../../../core/localization/feature-map';
import { splitWeights } from '../../../../core/localization/objectness';

const size = { width: 400, height: 300 };
const box = (left: number, top: number, width: number, height: number): CropBox => ({ left, top, width, height });
const candidate = (b: CropBox | null, source: Candidate['source'] = 'map'): Candidate => ({ box: b, source, label: null });
const answer = (firstId: string | undefined, firstScore: number) => ({ firstId, firstScore });

describe('choose', () => {
  const settings = { wholeMargin: 0.05, objectMargin: 0.1, tightenMargin: 0.03 };

  it('keeps the reference (the whole photo or its trim) unless a region beats it by the margin', () => {
    const candidates = [candidate(null, 'whole'), candidate(box(10, 10, 100, 100)), candidate(box(200, 100, 150, 150))];
    expect(choose(candidates, [answer('a', 0.8), answer('b', 0.84), answer('c', 0.7)], size, settings, 5).primary).toBe(0);
    expect(choose(candidates, [answer('a', 0.8), answer('b', 0.86), answer('c', 0.7)], size, settings, 5).primary).toBe(1);
  });

  it('returns objects best first: never the untrimmed whole photo, one per first result, not overlapping, within the margin, at most max', () => {
    const candidates = [
      candidate(null, 'whole'),
      candidate(box(10, 10, 100, 100)), // b, best
      candidate(box(15, 12, 100, 96)), // b again, and overlaps the first
      candidate(box(200, 100, 150, 150)), // c
      candidate(box(0, 200, 80, 80)), // d, too weak
      candidate(box(300, 0, 90, 90)), // e
      candidate(box(120, 0, 60, 60)), // nothing passed the filters
    ];
    const answers = [answer('a', 0.95), answer('b', 0.9), answer('b2', 0.89), answer('c', 0.87), answer('d', 0.7), answer('e', 0.86), answer(undefined, 0)];
    expect(choose(candidates, answers, size, settings, 5).objects).toEqual([1, 3, 5]);
    // The margin counts from the best region, the whole photo included (as measured).
    expect(choose(candidates, answers, size, settings, 2).objects).toEqual([1, 3]);
    // A trim is a real object (a product on white): it may be returned.
    const trimmed = [candidate(box(50, 40, 300, 220), 'trim'), ...candidates.slice(1)];
    expect(choose(trimmed, answers, size, settings, 5).objects[0]).toBe(0);
  });
});

describe('choose: tightening', () => {
  it('reports the smallest region over the chosen one that finds the same product about as surely', () => {
    const candidates = [candidate(null, 'whole'), candidate(box(0, 0, 250, 250)), candidate(box(20, 20, 150, 160)), candidate(box(30, 30, 60, 60)), candidate(box(300, 0, 90, 90))];
    const settings = { wholeMargin: 0.05, objectMargin: 0.1, tightenMargin: 0.03 };
    // 2 is tighter than 1 and within 0.03; 3 is tighter still but scores 0.05 less; 4 is the same product elsewhere.
    const answers = [answer('a', 0.7), answer('k', 0.9), answer('k', 0.88), answer('k', 0.85), answer('k', 0.89)];
    const choice = choose(candidates, answers, size, settings, 5);
    expect(choice.primary).toBe(2);
    expect(choice.objects).toEqual([2]);
    expect(choose(candidates, answers, size, { ...settings, tightenMargin: 0 }, 5).primary).toBe(1);
  });
});

describe('choose: a part inside a larger region', () => {
  // The whole item (1) holds a part of it (2), which finds that part's close-up (another product) with a larger lead.
  const candidates = [candidate(null, 'whole'), candidate(box(50, 30, 300, 240)), candidate(box(80, 60, 100, 90)), candidate(box(300, 200, 100, 100))];
  const settings = { wholeMargin: 0.05, objectMargin: 0.1, tightenMargin: 0.03, gapWeight: 2, containerScore: 0.8, containerMargin: 0.3, containerCover: 0.7, containerRatio: 1.5 };
  const answers = (part: number) => [
    { firstId: 'a', firstScore: 0.6, secondScore: 0.58 },
    { firstId: 'item', firstScore: 0.8, secondScore: 0.75 }, // region score 0.9
    { firstId: 'close-up', firstScore: 0.9, secondScore: 0.9 - part }, // region score 0.9 + 2 × part
    { firstId: 'c', firstScore: 0.7, secondScore: 0.69 },
  ];

  it('gives way to the larger region that holds it and finds its own product clearly, unless it beats it by the margin', () => {
    expect(choose(candidates, answers(0.1), size, settings, 5).primary).toBe(1);
    expect(choose(candidates, answers(0.1), size, { ...settings, containerScore: undefined }, 5).primary).toBe(2);
    // 1.2 against 0.9: not clearly beaten (by 0.3) … 1.3: beaten.
    expect(choose(candidates, answers(0.14), size, settings, 5).primary).toBe(1);
    expect(choose(candidates, answers(0.2), size, settings, 5).primary).toBe(2);
  });

  it('only for a region that the larger one covers, at least containerRatio times as large, and finds clearly', () => {
    expect(choose(candidates, answers(0.1), size, { ...settings, containerScore: 0.95 }, 5).primary).toBe(2);
    expect(choose(candidates, answers(0.1), size, { ...settings, containerRatio: 10 }, 5).primary).toBe(2);
    const beside = [...candidates.slice(0, 2), candidate(box(300, 30, 100, 90)), candidates[3]!];
    expect(choose(beside, answers(0.1), size, settings, 5).primary).toBe(2);
  });
});

describe('choose: objectness', () => {
  it('adds the bonus × objectness to a region\'s first score: a region that frames a thing beats a slightly better background patch', () => {
    const candidates: Candidate[] = [candidate(null, 'whole'), { ...candidate(box(0, 0, 100, 100)), objectness: 0.1 }, { ...candidate(box(200, 100, 150, 150), 'objectness'), objectness: 0.9 }];
    const answers = [answer('a', 0.7), answer('b', 0.86), answer('c', 0.84)];
    const settings = { wholeMargin: 0.05, objectMargin: 0.1, tightenMargin: 0.03 };
    expect(choose(candidates, answers, size, settings, 5).primary).toBe(1);
    expect(choose(candidates, answers, size, { ...settings, objectnessBonus: 0 }, 5).primary).toBe(1);
    expect(choose(candidates, answers, size, { ...settings, objectnessBonus: 0.1 }, 5).primary).toBe(2);
  });
});

describe('Localizer.propose', () => {
  // A map with one hot blob in the right half: SCDA finds it at every threshold.
  const map: FeatureMap = (() => {
    const [width, height, channels] = [8, 6, 2];
    const features = new Float32Array(channels * width * height);
    const sum = new Float32Array(width * height);
    for (const [x, y] of [[5, 2], [6, 2], [5, 3], [6, 3]] as const) {
      features[y * width + x] = 5;
      sum[y * width + x] = 5;
    }
    sum[0] = 0.01;
    return { width, height, channels, features, sum: { values: sum, width, height } };
  })();
  const fakeModel = (calls: { n: number }) => ({ map: async () => (calls.n++, map) }) as unknown as FeatureMapModel;
  const noisy = { data: Buffer.alloc(400 * 300 * 3), width: 400, height: 300 };
  for (let i = 0; i < noisy.data.length; i++) noisy.data[i] = (i * 7919) % 251;
  const plain = { data: Buffer.alloc(400 * 300 * 3, 255), width: 400, height: 300 };
  for (let y = 100; y < 200; y++) for (let x = 150; x < 250; x++) plain.data.fill(20, (y * 400 + x) * 3, (y * 400 + x) * 3 + 3);

  it('a busy photo: the whole photo first, then the map regions, without near duplicates', async () => {
    const calls = { n: 0 };
    const { candidates } = await new Localizer(fakeModel(calls), null).propose(noisy, false);
    expect(candidates[0]).toEqual({ box: null, source: 'whole', label: null });
    expect(candidates.length).toBeGreaterThan(1);
    for (const c of candidates.slice(1)) {
      expect(c.source).toBe('map');
      // The blob's cells span x 5–6 and y 2–3 of an 8 × 6 map: x 250–350, y 100–200 of the photo, plus padding.
      expect(c.box!.left).toBeGreaterThanOrEqual(200);
      expect(c.box!.top).toBeGreaterThanOrEqual(50);
    }
    expect(calls.n).toBe(1);
    const capped = await new Localizer(fakeModel(calls), null, { ...DEFAULT_LOCALIZER_SETTINGS, maxRegions: 2 }).propose(noisy, false);
    expect(capped.candidates.map((c) => c.source)).toEqual(['whole', 'map']);
  });

  it('a query without objects is capped at primaryRegions, one with objects at maxRegions', async () => {
    const all = await new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, primaryRegions: 64, maxRegions: 64 }).propose(noisy, false);
    expect(all.candidates.length).toBe(3);
    const localizer = new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, primaryRegions: 2, maxRegions: 3 });
    expect((await localizer.propose(noisy, false)).candidates).toEqual(all.candidates.slice(0, 2));
    expect((await localizer.propose(noisy, true)).candidates).toEqual(all.candidates.slice(0, 3));
    // primaryRegions above maxRegions: maxRegions caps both.
    const above = new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, primaryRegions: 10, maxRegions: 2 });
    expect((await above.propose(noisy, false)).candidates).toHaveLength(2);
  });

  it('drops candidates smaller than minRegionArea of the photo before the caps, never the reference', async () => {
    const all = await new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, minRegionArea: 0 }).propose(noisy, false);
    const areas = all.candidates.slice(1).map((c) => (c.box!.width * c.box!.height) / (400 * 300));
    expect(areas.length).toBeGreaterThan(1);
    const floor = (Math.min(...areas) + Math.max(...areas)) / 2;
    const kept = await new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, minRegionArea: floor }).propose(noisy, false);
    expect(kept.candidates[0]!.source).toBe('whole');
    expect(kept.candidates.slice(1).length).toBeGreaterThan(0);
    expect(kept.candidates.slice(1).length).toBeLessThan(areas.length);
    for (const c of kept.candidates.slice(1)) expect(c.box!.width * c.box!.height).toBeGreaterThanOrEqual(floor * 400 * 300);
    // The cap counts what is kept: with a cap of 2 the larger region comes in place of a dropped one.
    const capped = await new Localizer(fakeModel({ n: 0 }), null, { ...DEFAULT_LOCALIZER_SETTINGS, minRegionArea: 1, primaryRegions: 2 }).propose(noisy, false);
    expect(capped.candidates).toEqual([all.candidates[0]]);
  });

  it('with the objectness head and objects: its boxes come first after the whole photo, and every region gets its objectness', async () => {
    // Heat logit 10 · relu(channel 0) − 5: only the blob's cells are hot; offset (+0.5, +0.5) cells, size 2 × 2 cells.
    const head = splitWeights(Float32Array.from([1, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 0, -5, 0.5, 0.5, Math.log(2), Math.log(2)]), 2, 1, 1);
    const settings = { ...DEFAULT_LOCALIZER_SETTINGS, objectnessBoxes: 2 };
    const { candidates } = await new Localizer(fakeModel({ n: 0 }), null, settings, head).propose(noisy, true);
    expect(candidates.map((c) => c.source).slice(0, 3)).toEqual(['whole', 'objectness', 'objectness']);
    // The first hot cell (5, 2) of the 8 × 6 map over 400 × 300: centre (5.5 + 0.5, 2.5 + 0.5) × 50 px, 100 px + 10 %.
    expect(candidates[1]!.box).toEqual({ left: 245, top: 95, width: 110, height: 110 });
    expect(candidates[1]!.objectness).toBeCloseTo(1, 6);
    expect(candidates[0]!.objectness).toBeUndefined();
    for (const c of candidates.slice(3)) expect(c.objectness).toBeGreaterThanOrEqual(0);
    const without = await new Localizer(fakeModel({ n: 0 }), null, { ...settings, objectnessBoxes: 0 }, head).propose(noisy, true);
    expect(without.candidates.some((c) => c.source === 'objectness')).toBe(false);
    // A photo query without objects gets the head's boxes too (objectnessPrimary, LOCALIZE_OBJECTNESS=always), and
    // does not run the head with LOCALIZE_OBJECTNESS=objects.
    const primaryQuery = await new Localizer(fakeModel({ n: 0 }), null, settings, head).propose(noisy, false);
    expect(primaryQuery.candidates.map((c) => c.source).slice(0, 3)).toEqual(['whole', 'objectness', 'objectness']);
    const plainQuery = await new Localizer(fakeModel({ n: 0 }), null, { ...settings, objectnessPrimary: false }, head).propose(noisy, false);
    expect(plainQuery.candidates.some((c) => c.source === 'objectness' || c.objectness !== undefined)).toBe(false);
  });

  it('a product on a plain background: its trim alone, without running the model; with objects, the regions too', async () => {
    const calls = { n: 0 };
    const localizer = new Localizer(fakeModel(calls), null, DEFAULT_LOCALIZER_SETTINGS);
    const alone = await localizer.propose(plain, false);
    expect(alone.candidates).toHaveLength(1);
    expect(alone.candidates[0]!.source).toBe('trim');
    expect(calls.n).toBe(0);
    const objects = await localizer.propose(plain, true);
    expect(objects.candidates[0]!.source).toBe('trim');
    expect(objects.candidates.length).toBeGreaterThan(1);
    expect(calls.n).toBe(1);
  });

  it('reference: the trim of a plain photo, the whole of a busy one; propose starts from the reference it is given', async () => {
    const localizer = new Localizer(fakeModel({ n: 0 }), null);
    expect(localizer.reference(noisy)).toEqual({ box: null, source: 'whole', label: null });
    const trim = localizer.reference(plain);
    expect(trim.source).toBe('trim');
    expect((await localizer.propose(plain, false)).candidates).toEqual([trim]);
    // The caller's reference is candidate 0 as given (the search service asked it whole already).
    const given = localizer.reference(noisy);
    expect((await localizer.propose(noisy, false, given)).candidates[0]).toBe(given);
  });
});

describe('regionScore', () => {
  it('is the first cosine plus gapWeight × the lead over the second; no second, no lead', () => {
    expect(regionScore({ firstId: 'a', firstScore: 0.7, secondScore: 0.6 }, 2)).toBeCloseTo(0.9, 10);
    expect(regionScore({ firstId: 'a', firstScore: 0.7 }, 2)).toBeCloseTo(0.7, 10);
    expect(regionScore({ firstId: 'a', firstScore: 0.7, secondScore: 0.6 }, 0)).toBeCloseTo(0.7, 10);
  });
});

describe('choose: the lead over the second result', () => {
  const settings = { wholeMargin: 0.05, objectMargin: 0.1, tightenMargin: 0.03, gapWeight: 2 };
  const candidates = [candidate(null, 'whole'), candidate(box(0, 0, 100, 100)), candidate(box(200, 100, 150, 150))];
  const second = (firstId: string, firstScore: number, secondScore?: number) => ({ firstId, firstScore, ...(secondScore !== undefined ? { secondScore } : {}) });

  it('prefers the region that finds one product clearly over one that finds several about as well', () => {
    // 1 finds b first at 0.86 but c nearly as well (0.85): a part, or something else; 2 finds c at 0.84 well ahead of the rest.
    const answers = [second('a', 0.7, 0.69), second('b', 0.86, 0.85), second('c', 0.84, 0.7)];
    expect(choose(candidates, answers, size, { ...settings, gapWeight: 0 }, 5).primary).toBe(1);
    expect(choose(candidates, answers, size, settings, 5).primary).toBe(2);
    // The objects come in the same order.
    expect(choose(candidates, answers, size, { ...settings, objectMargin: 1 }, 5).objects).toEqual([2, 1]);
  });

  it('gives no lead to a region without a second result (one product passed the filters): first scores decide', () => {
    const answers = [second('a', 0.7), second('b', 0.86), second('b', 0.8)];
    expect(choose(candidates, answers, size, settings, 5).primary).toBe(1);
  });

  it('tightens by the same score: a tighter region with the same first result but a smaller lead is not taken', () => {
    const nested = [candidate(null, 'whole'), candidate(box(0, 0, 250, 250)), candidate(box(20, 20, 150, 160))];
    // Same first score; 2's lead is 0.05 smaller: 0.1 less with gapWeight 2, beyond the 0.03 tightening margin.
    const answers = [second('a', 0.6, 0.59), second('k', 0.9, 0.7), second('k', 0.9, 0.75)];
    expect(choose(nested, answers, size, settings, 5).primary).toBe(1);
    expect(choose(nested, answers, size, { ...settings, gapWeight: 0 }, 5).primary).toBe(2);
  });
});
