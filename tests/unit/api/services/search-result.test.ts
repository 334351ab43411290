import { answer, cursorOptions, FIRST_PAGE } from '../../../../api/services/search-result';
import { decodeCursor, MAX_PAGE_DEPTH } from '../../../../core/search/paging';
import { searchOptionsSchema } from '../../../../core/search/search-request';

const hitsOf = (n: number, from = 0) => ({ hits: Array.from({ length: n }, (_, i) => ({ _id: `d-${from + i}`, _score: 0.99 - (from + i) / 10_000, _source: { id: `p-${from + i}` } })) });
const options = (k: number) => searchOptionsSchema.parse({ k, filters: { brand: ['acme'] } });

describe('answer: one page and its cursor', () => {
  it('a cursor after the last result shown, carrying the options (not k, not the catalog)', () => {
    const page = answer(hitsOf(20), { ...options(10), catalog: 'store-a' }, FIRST_PAGE, cursorOptions({ ...options(10), catalog: 'store-a' }));
    expect(page.results.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `p-${i}`));
    const cursor = decodeCursor(page.next_cursor!);
    expect(cursor).toMatchObject({ shown: 10, id: 'p-9', options: { filters: { brand: ['acme'] } } });
    expect(cursor.options).not.toHaveProperty('k');
    expect(cursor.options).not.toHaveProperty('catalog');
    const next = answer(hitsOf(25), options(10), { shown: 10, after: { id: cursor.id, score: cursor.score } }, {});
    expect(next.results.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `p-${10 + i}`));
  });

  it('no cursor when the search found everything, nor past the deepest page', () => {
    expect(answer(hitsOf(7), options(10), FIRST_PAGE, {}).next_cursor).toBeNull();
    expect(answer(hitsOf(10), options(10), FIRST_PAGE, {}).next_cursor).toEqual(expect.any(String));
    const deep = answer(hitsOf(MAX_PAGE_DEPTH), options(100), { shown: 950, after: { id: 'p-949', score: 0.99 - 949 / 10_000 } }, {});
    expect(deep.results).toHaveLength(50);
    expect(deep.next_cursor).toBeNull();
    // An object's results carry no cursor.
    expect(answer(hitsOf(20), options(10), FIRST_PAGE, null).next_cursor).toBeNull();
  });
});
