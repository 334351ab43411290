import { durationSeconds, parseLoadArgs } from '../../../benchmarks/lib/load-args';

describe('parseLoadArgs', () => {
  it('reads the contract: --url, --scenario, --rate, --duration', () => {
    const args = parseLoadArgs(['--url', 'http://127.0.0.1:8080', '--scenario', 'photo-640', '--rate', '7.5', '--duration', '1m30s']);
    expect(args).toMatchObject({ url: 'http://127.0.0.1:8080', scenario: 'photo-640', rate: 7.5, duration: '1m30s', 'api-port': 18280, 'drop-index': false });
  });

  it('reads lists and the started stack’s options', () => {
    const args = parseLoadArgs(['--scenario', 'knee', '--photos', '640,12mp', '--rates', '2,4,8', '--per-category', '3', '--alias', 'load-smoke-1', '--api-port', '18290', '--drop-index']);
    expect(args).toMatchObject({ scenario: 'knee', photos: ['640', '12mp'], rates: [2, 4, 8], 'per-category': 3, alias: 'load-smoke-1', 'api-port': 18290, 'drop-index': true });
    expect(args.url).toBeUndefined();
  });

  it('names every bad flag at once, with the usage', () => {
    expect(() => parseLoadArgs(['--scenario', 'soak', '--rate=-1', '--duration', '10 minutes', '--photos', '4k'])).toThrow(
      /--scenario: .*; --rate: .*; --duration: .*; --photos: .*\nusage: npm run bench:load/s,
    );
  });

  it('refuses unknown flags, positionals and a URL that is not http(s)', () => {
    expect(() => parseLoadArgs(['--scenario', 'smoke', '--ratee', '3'])).toThrow(/Unknown option '--ratee'/);
    expect(() => parseLoadArgs(['--scenario', 'smoke', 'extra'])).toThrow(/positional/);
    expect(() => parseLoadArgs(['--scenario', 'smoke', '--url', 'ftp://host'])).toThrow(/--url/);
    expect(() => parseLoadArgs([])).toThrow(/--scenario/);
  });
});

describe('durationSeconds', () => {
  it('reads k6 durations', () => {
    expect(durationSeconds('15s')).toBe(15);
    expect(durationSeconds('2m')).toBe(120);
    expect(durationSeconds('1h1m1s')).toBe(3661);
    expect(() => durationSeconds('')).toThrow();
    expect(() => durationSeconds('10')).toThrow();
  });
});
